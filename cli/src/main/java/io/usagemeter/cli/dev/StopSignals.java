package io.usagemeter.cli.dev;

import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ctrl-C (SIGINT) and SIGTERM ask the dev stack to stop in order, so the process exits 0 after a
 * clean shutdown instead of 130/143 from the JVM's default handler. A second signal while stopping
 * exits at once. Where the JDK offers no signal API the named shutdown hook still stops the stack.
 */
final class StopSignals {

    private static final Logger log = LoggerFactory.getLogger(StopSignals.class);

    private StopSignals() {
    }

    static void install(Runnable requestStop) {
        AtomicInteger received = new AtomicInteger();
        for (String name : new String[] {"INT", "TERM"}) {
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), signal -> {
                    if (received.incrementAndGet() == 1) {
                        requestStop.run();
                    } else {
                        System.err.println("meter dev: second signal, exiting without waiting");
                        Runtime.getRuntime().halt(130);
                    }
                });
            } catch (LinkageError | IllegalArgumentException e) {
                // SIGINT is ignored in a background job of a non-interactive shell, and the JVM refuses it then.
                log.debug("no handler for SIG{} ({}); the shutdown hook stops the stack", name, e.toString());
            }
        }
    }
}
