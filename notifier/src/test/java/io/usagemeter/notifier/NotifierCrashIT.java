package io.usagemeter.notifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.events.LimitEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Killing the notifier with {@code SIGKILL} in the middle of a delivery loses nothing: the delivery
 * in flight is made again with the same {@code webhook-id}, and an event published while the
 * notifier is down is delivered after the restart.
 */
class NotifierCrashIT {

    private static final String DATABASE = "notifier_crash";
    private static NotifierTestSupport stack;

    @BeforeAll
    static void start() {
        stack = new NotifierTestSupport(DATABASE);
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void aNotifierKilledMidDeliveryLosesNothing() throws Exception {
        String group = "notifier-crash-" + UUID.randomUUID();
        Map<String, String> env = stack.environment(DATABASE, group, "200ms,200ms,200ms");
        YearMonth month = YearMonth.now(ZoneOffset.UTC);
        UUID user = UUID.randomUUID();
        try (Receiver receiver = new Receiver(n -> n == 0 ? -1 : 200)) {
            Child first = Child.start(env, 1);
            Child second = null;
            try {
                JsonNode endpoint = stack.register(first.port, receiver.url(), "limit.warning", "limit.exceeded");
                String secret = endpoint.get("secret").asText();

                stack.publish(new LimitEvent(user, month, 80, 800, 1000, Instant.now().truncatedTo(ChronoUnit.MILLIS)));
                // The receiver holds the first request open: the delivery is in flight when the notifier dies.
                await().atMost(Duration.ofSeconds(30)).until(() -> !receiver.received.isEmpty());
                first.process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                String inFlight = receiver.received.get(0).webhookId();

                // Published while no notifier runs: only Kafka has it.
                stack.publish(new LimitEvent(user, month, 100, 1000, 1000, Instant.now().truncatedTo(ChronoUnit.MILLIS)));
                evictMembers(group);
                second = Child.start(env, 2);

                await().atMost(Duration.ofSeconds(60)).until(() -> receiver.received.size() >= 3);
                List<Receiver.Received> got = receiver.received;
                assertThat(got.get(1).webhookId()).as("the delivery in flight, again with the same id").isEqualTo(inFlight);
                assertThat(got.get(2).body()).contains("limit.exceeded");
                assertThat(got).allMatch(r -> r.signedWith(secret));

                int port = second.port;
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                        stack.deliveries(port, endpoint.get("id").asText()))
                        .hasSize(2)
                        .allSatisfy(d -> assertThat(d.get("status").asText()).isEqualTo("succeeded")));
            } finally {
                receiver.release();
                first.process.destroyForcibly();
                if (second != null) {
                    second.process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                }
            }
        }
    }

    private static void evictMembers(String group) {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", stack.bootstrap))) {
            admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions()).all()
                    .get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            System.out.printf("crash test: evicting the members of %s: %s%n", group, e.getMessage());
        }
    }

    /** {@link NotifierProcess} in a child JVM, with the test's classpath. */
    private record Child(Process process, int port) {
        static Child start(Map<String, String> env, int generation) throws Exception {
            Path log = Path.of(System.getProperty("java.io.tmpdir"), "notifier-crash-" + generation + "-"
                    + System.nanoTime() + ".log");
            ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-cp", System.getProperty("java.class.path"), NotifierProcess.class.getName())
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().putAll(env);
            Process process = builder.start();
            try {
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
                    if (!process.isAlive()) {
                        fail("the notifier exited with " + process.exitValue() + ":\n" + Files.readString(log));
                    }
                    return Files.readString(log).contains("READY ");
                });
                String line = Files.readAllLines(log).stream().filter(l -> l.startsWith("READY ")).findFirst().orElseThrow();
                return new Child(process, Integer.parseInt(line.substring("READY ".length()).strip()));
            } catch (RuntimeException | Error e) {
                process.destroyForcibly();
                throw e;
            }
        }
    }
}
