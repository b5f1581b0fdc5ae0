package io.usagemeter.ingest.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.clients.ClientFixtures;
import io.usagemeter.clients.ClientRuntime;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link UsageClient} against a real broker, and what it refuses before anything is sent. Over HTTP against
 * the real ingest service: {@code UsageClientHttpIT} in ingest.
 */
class UsageClientTest {

    private static EmbeddedKafkaBroker broker;

    @BeforeAll
    static void start() {
        broker = EmbeddedKafkaBroker.start();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
    }

    @AfterAll
    static void stop() {
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void kafkaTransportDeliversEveryEventKeyedByUserAtItsEventTime() throws Exception {
        UUID run = UUID.randomUUID();
        List<UsageEvent> sent = ClientFixtures.events(run, 1_000);
        try (UsageClient client = UsageClient.toKafka(broker.bootstrapServers()).build()) {
            List<CompletableFuture<Void>> acks = sent.stream().map(client::emit).toList();
            client.flush();
            assertThat(acks).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
            assertThat(client.pendingEvents()).isZero();
        }
        ClientFixtures.assertDelivered(broker.bootstrapServers(), run, sent);
    }

    @Test
    void anInvalidEventIsRejectedAtEmitAndNothingIsQueued() {
        try (UsageClient client = UsageClient.toKafka(broker.bootstrapServers()).build()) {
            UsageEvent tooOld = new UsageEvent("old-1", UUID.randomUUID(), Instant.now().minus(40, ChronoUnit.DAYS),
                    Provider.GITHUB, "/repos", "GET", 200, 1, 1, 1, 0, 1);
            UsageEvent badStatus = new UsageEvent("bad-1", UUID.randomUUID(), Instant.now(),
                    Provider.GITHUB, "/repos", "GET", 999, 1, 1, 1, 0, 0);

            assertThatThrownBy(() -> client.emit(tooOld)).isInstanceOf(InvalidUsageEventException.class)
                    .satisfies(e -> assertThat(((InvalidUsageEventException) e).violations())
                            .extracting(v -> v.field()).containsExactly("occurred_at"));
            assertThatThrownBy(() -> client.emit(badStatus)).isInstanceOf(InvalidUsageEventException.class)
                    .satisfies(e -> assertThat(((InvalidUsageEventException) e).violations())
                            .extracting(v -> v.field()).containsExactlyInAnyOrder("status_code", "units"));
            assertThat(client.pendingEvents()).isZero();
        }
    }

    /** Both transports refuse what ingest refuses (issue 13): the bounds and text rules, before anything is queued. */
    @Test
    void eventsOutOfBoundsAreRejectedAtEmitByBothTransports() throws IOException {
        UsageEvent poison = new UsageEvent("nul\u0000", UUID.randomUUID(), Instant.now(), Provider.GITHUB,
                "/a\u0000b", "M".repeat(33), 200, 86_400_001L, 1L << 40, 0, 100_000_001L, Long.MAX_VALUE);
        try (UsageClient kafka = UsageClient.toKafka(broker.bootstrapServers()).build();
             UsageClient http = UsageClient.overHttp(URI.create("http://localhost:" + unusedPort()), "um_unused").build()) {
            for (UsageClient client : List.of(kafka, http)) {
                assertThatThrownBy(() -> client.emit(poison)).isInstanceOf(InvalidUsageEventException.class)
                        .satisfies(e -> assertThat(((InvalidUsageEventException) e).violations())
                                .extracting(v -> v.field()).containsExactlyInAnyOrder("event_id", "endpoint", "method",
                                        "response_time_ms", "request_bytes", "tokens", "units"));
                assertThat(client.pendingEvents()).isZero();
            }
        }
    }

    @Test
    void whenFullEmitFailsFastAfterTheBlockTime() throws Exception {
        URI nowhere = URI.create("http://localhost:" + unusedPort());
        try (UsageClient client = UsageClient.overHttp(nowhere, "um_unused")
                .maxPendingEvents(2).maxBlock(Duration.ZERO).closeTimeout(Duration.ZERO).build()) {
            UUID run = UUID.randomUUID();
            List<UsageEvent> three = ClientFixtures.events(run, 3);
            CompletableFuture<Void> first = client.emit(three.get(0));
            client.emit(three.get(1));
            assertThatThrownBy(() -> client.emit(three.get(2))).isInstanceOf(UsageClientFullException.class);
            assertThat(first).isNotDone();
        }
    }

    /**
     * What an app's classpath needs for the client, checked by running it: the client is loaded in a class
     * loader holding only the module's classes and the runtime dependencies an app inherits from it (no test
     * library, no broker, no Micrometer), and delivers an event to the broker. A class reached at run time that
     * an app would not have fails here with {@code NoClassDefFoundError}.
     */
    @Test
    void theClientRunsOnWhatAnAppInherits() throws Exception {
        UUID user = UUID.randomUUID();
        UsageEvent sent = ClientFixtures.events(user, 1).get(0);
        try (java.net.URLClassLoader isolated = ClientRuntime.appClassLoader()) {
            Class<?> clientClass = isolated.loadClass(UsageClient.class.getName());
            assertThat(clientClass.getClassLoader()).isSameAs(isolated);
            for (String absent : List.of("io.javalin.Javalin", "io.micrometer.core.instrument.MeterRegistry",
                    "io.usagemeter.kit.ServiceServer", "org.jooq.DSLContext", "org.apache.kafka.streams.KafkaStreams")) {
                assertThatThrownBy(() -> isolated.loadClass(absent)).as(absent).isInstanceOf(ClassNotFoundException.class);
            }
            Class<?> eventClass = isolated.loadClass(UsageEvent.class.getName());
            Object event = ClientFixtures.copyInto(eventClass, sent);

            // Kafka loads its plugins (reporters, serdes) through the context class loader: the app's own.
            Thread thread = Thread.currentThread();
            ClassLoader previous = thread.getContextClassLoader();
            thread.setContextClassLoader(isolated);
            try {
                Object builder = clientClass.getMethod("toKafka", String.class).invoke(null, broker.bootstrapServers());
                try (AutoCloseable client = (AutoCloseable) builder.getClass().getMethod("build").invoke(builder)) {
                    CompletableFuture<?> ack = (CompletableFuture<?>) clientClass.getMethod("emit", eventClass)
                            .invoke(client, event);
                    ack.get(30, TimeUnit.SECONDS);
                }
            } finally {
                thread.setContextClassLoader(previous);
            }
        }
        ClientFixtures.assertDelivered(broker.bootstrapServers(), user, List.of(sent));
    }

    private static int unusedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
