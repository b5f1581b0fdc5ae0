package io.usagemeter.cli.dev;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.server.fault.ProcessTerminatingFaultHandler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fatal fault of the embedded broker, raised through Kafka's own fault handler (which would halt
 * the JVM and leave PostgreSQL running), stops the whole dev stack in order, PostgreSQL included,
 * says why in one line and ends {@code meter dev} with exit code 1.
 */
class DevRunnerBrokerFaultTest {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(150);

    @Test
    void theBrokersFatalFaultStopsEverythingAndSaysWhyInOneLine(@TempDir Path work) throws Exception {
        int portBase = freePortBase();
        Path data = work.resolve("data");
        StringWriter output = new StringWriter();
        PrintWriter out = new PrintWriter(output, true);
        DevRunner runner = new DevRunner(new DevRunner.Options(data, false, false, portBase, false),
                Map.of("METER_LOG_LEVEL", "INFO"), out);
        CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> {
            try {
                return runner.run();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        try {
            awaitOutput(output, "dev stack is up", exit);
            DevPorts ports = new DevPorts(portBase);
            long postgresPid = Long.parseLong(Files.readAllLines(data.resolve("postgres").resolve("postmaster.pid")).get(0).strip());
            assertThat(listening(ports.postgres())).isTrue();

            // What the raft IO thread does when the metadata log cannot be flushed.
            new ProcessTerminatingFaultHandler.Builder().setShouldHalt(true).build().handleFault(
                    "Unexpected error in raft IO thread", new KafkaStorageException("Error while flushing log",
                            new FileSystemException("/data/__cluster_metadata-0/0.index", null, "Too many open files")));

            assertThat(exit.get(DevRunner.FAULT_STOP_TIMEOUT.toSeconds() + 30, TimeUnit.SECONDS)).isEqualTo(1);
            assertThat(output.toString().lines().filter(line -> line.contains("fatal fault (")))
                    .containsExactly("meter dev: the embedded Kafka broker stopped on a fatal fault (Unexpected error in"
                            + " raft IO thread: FileSystemException: /data/__cluster_metadata-0/0.index: Too many open files);"
                            + " stopping everything, PostgreSQL included");
            assertThat(output.toString()).contains("meter dev: stopped after the broker's fatal fault");
            assertThat(gone(postgresPid, Duration.ofSeconds(15))).as("PostgreSQL (pid " + postgresPid + ") stopped").isTrue();
            for (int port : new int[] {ports.kafka(), ports.postgres(), ports.ingest(), ports.enforcer(), ports.aggregatorMetrics()}) {
                assertThat(listening(port)).as("port " + port + " released").isFalse();
            }
        } finally {
            runner.requestStop();
            exit.handle((code, error) -> code).get(120, TimeUnit.SECONDS);
        }
    }

    private static void awaitOutput(StringWriter output, String fragment, CompletableFuture<Integer> exit) throws Exception {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (!output.toString().contains(fragment)) {
            if (exit.isDone()) {
                throw new AssertionError("meter dev ended (" + exit.handle((c, e) -> c + " " + e).get() + ") before '"
                        + fragment + "':\n" + output);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no '" + fragment + "' within " + START_TIMEOUT + ":\n" + output);
            }
            Thread.sleep(100);
        }
    }

    /** Whether the process ended; its exit shows once the system reaped it, which can take a moment. */
    private static boolean gone(long pid, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(100);
        }
        return true;
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("localhost", port), 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePortBase() {
        for (int attempt = 0; attempt < 50; attempt++) {
            int base = java.util.concurrent.ThreadLocalRandom.current().nextInt(30_000, 40_000);
            if (java.util.stream.IntStream.of(0, 1, 10, 20, 30).allMatch(offset -> DevPorts.isFree(base + offset))) {
                return base;
            }
        }
        throw new IllegalStateException("no free port base found");
    }
}
