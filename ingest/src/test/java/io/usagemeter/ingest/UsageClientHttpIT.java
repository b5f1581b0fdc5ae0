package io.usagemeter.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.clients.ClientFixtures;
import io.usagemeter.ingest.client.UsageClient;
import io.usagemeter.ingest.client.UsageDeliveryException;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.schema.events.UsageEvent;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link UsageClient}'s HTTP transport against the real ingest service. The client itself, over Kafka and what it
 * refuses before sending, is tested in the clients module ({@code UsageClientTest}).
 */
class UsageClientHttpIT {

    private static TestStack stack;
    private static IngestService service;
    private static String apiKey;

    @BeforeAll
    static void start() {
        stack = TestStack.start();
        service = IngestService.create(stack.config()).start();
        apiKey = stack.keys.issue("client-test", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void httpTransportDeliversEveryEventInBatches() throws Exception {
        UUID run = UUID.randomUUID();
        List<UsageEvent> sent = ClientFixtures.events(run, 1_200);
        double requestsBefore = acceptedRequests();
        try (UsageClient client = UsageClient.overHttp(URI.create("http://localhost:" + service.port()), apiKey)
                .batchSize(500).linger(Duration.ofMillis(50)).build()) {
            List<CompletableFuture<Void>> acks = sent.stream().map(client::emit).toList();
            client.flush();
            assertThat(acks).allMatch(f -> f.isDone() && !f.isCompletedExceptionally());
        }
        ClientFixtures.assertDelivered(stack.bootstrap, run, sent);
        // 1,200 events at most 500 per request: at least 3 requests, far fewer than 1,200.
        assertThat(acceptedRequests() - requestsBefore).isBetween(3.0, 100.0);
    }

    @Test
    void aRefusedBatchFailsItsEventsWithoutRetrying() {
        UsageEvent event = ClientFixtures.events(UUID.randomUUID(), 1).get(0);
        try (UsageClient client = UsageClient.overHttp(URI.create("http://localhost:" + service.port()), "um_wrong").build()) {
            CompletableFuture<Void> ack = client.emit(event);
            assertThatThrownBy(() -> ack.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                    .cause().isInstanceOf(UsageDeliveryException.class)
                    .satisfies(e -> assertThat(((UsageDeliveryException) e).retriesExhausted()).isFalse());
        }
    }

    /**
     * What an app's classpath needs for the client, checked by running it: the client is loaded in a class
     * loader without the server's libraries (HTTP server, metrics, the service kit, database, Streams) and
     * delivers an event to the real ingest service. A class of one of them reached at run time fails here
     * with {@code NoClassDefFoundError}.
     */
    @Test
    void theClientRunsWithoutTheServersLibraries() throws Exception {
        List<String> serverOnly = List.of("javalin", "jetty", "micrometer", "service-kit", "HikariCP", "postgresql",
                "jooq", "flyway", "kafka-streams", "kafka_2.13", "embedded", "cloudevents", "tink", "nimbus",
                "test-classes", "logback");
        List<String> classpath = List.of(System.getProperty("java.class.path").split(java.io.File.pathSeparator));
        List<java.net.URL> kept = new ArrayList<>();
        for (String entry : classpath) {
            if (serverOnly.stream().noneMatch(entry::contains)) {
                kept.add(Path.of(entry).toUri().toURL());
            }
        }
        assertThat(kept.size()).as("something was left out").isLessThan(classpath.size());
        UUID user = UUID.randomUUID();
        UsageEvent sent = ClientFixtures.events(user, 1).get(0);
        try (java.net.URLClassLoader isolated = new java.net.URLClassLoader(kept.toArray(java.net.URL[]::new),
                ClassLoader.getPlatformClassLoader())) {
            Class<?> clientClass = isolated.loadClass(UsageClient.class.getName());
            assertThat(clientClass.getClassLoader()).isSameAs(isolated);
            for (String absent : List.of("io.javalin.Javalin", "io.micrometer.core.instrument.MeterRegistry",
                    "io.usagemeter.kit.ServiceServer")) {
                assertThatThrownBy(() -> isolated.loadClass(absent)).as(absent).isInstanceOf(ClassNotFoundException.class);
            }
            Class<?> eventClass = isolated.loadClass(UsageEvent.class.getName());
            Object event = ClientFixtures.copyInto(eventClass, sent);

            Object builder = clientClass.getMethod("overHttp", URI.class, String.class)
                    .invoke(null, URI.create("http://localhost:" + service.port()), apiKey);
            try (AutoCloseable client = (AutoCloseable) builder.getClass().getMethod("build").invoke(builder)) {
                CompletableFuture<?> ack = (CompletableFuture<?>) clientClass.getMethod("emit", eventClass)
                        .invoke(client, event);
                ack.get(30, TimeUnit.SECONDS);
            }
        }
        ClientFixtures.assertDelivered(stack.bootstrap, user, List.of(sent));
    }

    private static double acceptedRequests() {
        var timer = service.registry().find("meter.ingest.request").tag("route", "events").tag("status", "202").timer();
        return timer == null ? 0 : timer.count();
    }
}
