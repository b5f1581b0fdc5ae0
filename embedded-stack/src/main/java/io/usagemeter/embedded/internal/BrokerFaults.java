package io.usagemeter.embedded.internal;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.kafka.common.utils.internals.Exit;

/**
 * Kafka ends the JVM when its broker or controller hits a fault it cannot recover from: the fault
 * handler calls {@link Exit#halt(int)}, which runs no shutdown hook. For a broker in the same JVM as
 * everything else that also ends the services and leaves child processes such as PostgreSQL behind.
 *
 * <p>With a handler registered, the halt or exit Kafka asks for is handed to it instead, once, on a
 * thread of its own, with the fault Kafka logged; the JVM lives on so that its owner can stop the rest
 * in order. Kafka's own thread carries on from its fault handler and ends.
 */
public final class BrokerFaults {

    private static final AtomicBoolean REPORTED = new AtomicBoolean();
    private static volatile Consumer<String> handler;
    private static volatile String lastFault;

    private BrokerFaults() {
    }

    /** From now on Kafka's halt and exit go to {@code faultHandler} (replacing any handler set before). */
    public static synchronized void handleWith(Consumer<String> faultHandler) {
        handler = Objects.requireNonNull(faultHandler);
        REPORTED.set(false);
        lastFault = null;
        BrokerLogging.captureFatalFaults();
        Exit.setHaltProcedure((status, message) -> report("halt", status, message));
        Exit.setExitProcedure((status, message) -> report("exit", status, message));
    }

    /** Kafka halts the JVM on a fatal fault again. */
    public static synchronized void reset() {
        handler = null;
        Exit.resetHaltProcedure();
        Exit.resetExitProcedure();
    }

    /** What Kafka's fault handler logged just before asking to halt. */
    static void faultLogged(String fault) {
        lastFault = fault;
    }

    private static void report(String action, int status, String message) {
        Consumer<String> current = handler;
        String fault = lastFault;
        String reason = fault != null ? fault
                : message != null ? message : "Kafka asked to " + action + " the JVM with status " + status;
        if (current == null) {
            // Reset between Kafka's check and this call: do what Kafka would have done.
            Runtime.getRuntime().halt(status);
            return;
        }
        if (REPORTED.compareAndSet(false, true)) {
            Thread thread = new Thread(() -> current.accept(reason), "embedded-kafka-fatal-fault");
            thread.start();
        }
    }
}
