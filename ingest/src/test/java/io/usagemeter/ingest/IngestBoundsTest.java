package io.usagemeter.ingest;

import static io.usagemeter.ingest.TestStack.event;
import static io.usagemeter.ingest.TestStack.json;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeySecrets;
import io.usagemeter.kit.testing.ConnectionFlood;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Ingest under abuse: floods of bad keys and of connections, more requests than it takes at once, a full producer buffer. */
class IngestBoundsTest {

    private static final String JSON = "application/json";
    private static final int MAX_CONNECTIONS = 32;
    private static final int MAX_IN_FLIGHT = 4;
    private static TestStack stack;
    private static IngestService service;
    private static String apiKey;

    @BeforeAll
    static void start() {
        stack = TestStack.start();
        service = IngestService.create(stack.config().withHttpLimits(HttpLimits.defaults()
                .withMaxConnections(MAX_CONNECTIONS).withMaxInFlight(MAX_IN_FLIGHT))).start();
        apiKey = stack.keys.issue("bounds-test", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
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

    /**
     * Random invalid keys (half of them malformed, half well formed but never issued) from several
     * threads at full speed for 5 s, while a valid client posts one event every 100 ms: every valid
     * post is accepted within 1 s.
     */
    @Test
    void aFloodOfInvalidKeysDoesNotSlowValidRequests() throws Exception {
        HttpClient valid = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        // A running service: the valid client has posted before the flood starts.
        assertThat(valid.send(HttpRequest.newBuilder(uri("/v1/events")).header("Content-Type", JSON)
                .header("Authorization", "Bearer " + apiKey).POST(HttpRequest.BodyPublishers.ofString(json(event(
                        "warm-" + UUID.randomUUID(), UUID.randomUUID(), Instant.now())))).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(202);
        HttpClient flooders = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        AtomicBoolean flooding = new AtomicBoolean(true);
        AtomicLong unauthorized = new AtomicLong();
        AtomicLong otherAnswers = new AtomicLong();
        String body = json(event("flood-" + UUID.randomUUID(), UUID.randomUUID(), Instant.now()));
        int threads = 3;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<CompletableFuture<Void>> flood = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            flood.add(CompletableFuture.runAsync(() -> {
                while (flooding.get()) {
                    String key = ThreadLocalRandom.current().nextBoolean()
                            ? ApiKeySecrets.generate() : "um_" + UUID.randomUUID();
                    try {
                        int status = flooders.send(HttpRequest.newBuilder(uri("/v1/events"))
                                .header("Content-Type", JSON).header("Authorization", "Bearer " + key)
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                HttpResponse.BodyHandlers.discarding()).statusCode();
                        (status == 401 ? unauthorized : otherAnswers).incrementAndGet();
                    } catch (Exception e) {
                        otherAnswers.incrementAndGet();
                    }
                }
            }, pool));
        }
        List<Long> validMillis = new ArrayList<>();
        long floodStarted = System.nanoTime();
        try {
            for (int i = 0; i < 50; i++) {
                long started = System.nanoTime();
                HttpResponse<String> response = valid.send(HttpRequest.newBuilder(uri("/v1/events"))
                        .header("Content-Type", JSON).header("Authorization", "Bearer " + apiKey)
                        .POST(HttpRequest.BodyPublishers.ofString(json(event("valid-" + UUID.randomUUID(),
                                UUID.randomUUID(), Instant.now())))).build(), HttpResponse.BodyHandlers.ofString());
                long millis = Duration.ofNanos(System.nanoTime() - started).toMillis();
                assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
                validMillis.add(millis);
                Thread.sleep(Math.max(0, 100 - millis));
            }
        } finally {
            flooding.set(false);
            CompletableFuture.allOf(flood.toArray(CompletableFuture[]::new)).join();
            pool.shutdown();
        }
        double seconds = (System.nanoTime() - floodStarted) / 1e9;
        System.out.printf("auth flood: %d x 401 in %.1f s = %.0f/s (%d other answers); valid posts max %d ms%n",
                unauthorized.get(), seconds, unauthorized.get() / seconds, otherAnswers.get(),
                validMillis.stream().mapToLong(Long::longValue).max().orElse(0));
        assertThat(unauthorized.get()).as("the flood was refused").isPositive();
        assertThat(otherAnswers.get()).as("every invalid key got a 401").isZero();
        assertThat(validMillis).as("every valid post answered within 1 s").allMatch(ms -> ms < 1_000);
    }

    @Test
    void aConnectionFloodLeavesIngestAlive() throws Exception {
        ConnectionFlood.check(service.port(), MAX_CONNECTIONS, 400);
    }

    /** More concurrent requests than the in-flight bound: each is accepted or shed with 503 and Retry-After. */
    @Test
    void pastTheInFlightBoundRequestsAreShedAndTheServiceRecovers() throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        // Fewer connections than the cap: this is about the in-flight bound, not the connection cap.
        for (int i = 0; i < MAX_CONNECTIONS - 8; i++) {
            List<Object> batch = new ArrayList<>();
            for (int e = 0; e < 200; e++) {
                batch.add(event("shed-" + UUID.randomUUID(), UUID.randomUUID(), Instant.now()));
            }
            answers.add(client.sendAsync(HttpRequest.newBuilder(uri("/v1/events")).header("Content-Type", JSON)
                    .header("Authorization", "Bearer " + apiKey).POST(HttpRequest.BodyPublishers.ofString(json(batch)))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        int accepted = 0;
        int shed = 0;
        for (CompletableFuture<HttpResponse<String>> answer : answers) {
            HttpResponse<String> response = answer.get();
            if (response.statusCode() == 202) {
                accepted++;
            } else {
                assertThat(response.statusCode()).as(response.body()).isEqualTo(503);
                assertThat(response.headers().firstValue("Retry-After")).isPresent();
                assertThat(Json.tree(response.body()).get("error").asText()).startsWith("overloaded");
                shed++;
            }
        }
        System.out.printf("ingest overload: %d accepted, %d shed of %d concurrent requests (bound %d)%n",
                accepted, shed, answers.size(), MAX_IN_FLIGHT);
        assertThat(accepted).isPositive();
        assertThat(stack.get(service, "/health/ready").statusCode()).isEqualTo(200);
        assertThat(stack.post(service, "/v1/events", JSON, json(event("after-" + UUID.randomUUID(), UUID.randomUUID(),
                Instant.now())), apiKey).statusCode()).isEqualTo(202);
    }

    /**
     * Kafka taking records more slowly than they come: once the producer's buffer is nearly full, a
     * request is answered 503 with {@code Retry-After} at once, counted as {@code producer_buffer_full},
     * instead of blocking in {@code send()} for {@code max.block.ms}; the service stays alive.
     */
    @Test
    void aFullProducerBufferIsAnswered503AtOnce() throws Exception {
        IngestConfig config = stack.config();
        Properties props = config.producerProperties();
        // Records wait a minute for their batch to fill, so nothing drains the small buffer during the test;
        // a send() that waited for room would block for the whole max.block.ms.
        props.put(ProducerConfig.LINGER_MS_CONFIG, 60_000);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, 16 * 1024);
        props.put(ProducerConfig.BUFFER_MEMORY_CONFIG, 64 * 1024);
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
        String filler = "bounds.buffer-filler";
        try (Admin admin = Admin.create(config.adminProperties());
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(),
                     new ByteArraySerializer())) {
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            admin.createTopics(List.of(new NewTopic(filler, 8, (short) 1))).all().get();
            // Each partition's first record takes a 16 KiB batch from the 64 KiB buffer.
            for (int partition = 0; bufferAvailable(producer) >= 8 * 1024; partition++) {
                producer.send(new ProducerRecord<>(filler, partition, null, new byte[100]));
            }
            try (IngestService slow = new IngestService(config, producer, admin, stack.keys, registry, Clock.systemUTC())
                    .start()) {
                long started = System.nanoTime();
                HttpResponse<String> response = stack.post(slow, "/v1/events", JSON, json(event("full-" + UUID.randomUUID(),
                        UUID.randomUUID(), Instant.now())), apiKey);
                long millis = Duration.ofNanos(System.nanoTime() - started).toMillis();

                assertThat(response.statusCode()).as(response.body()).isEqualTo(503);
                assertThat(response.headers().firstValue("Retry-After")).isPresent();
                assertThat(Json.tree(response.body()).get("error").asText()).contains("faster than Kafka acknowledges");
                assertThat(millis).as("answered without waiting for room in the buffer (max.block.ms 30 s)")
                        .isLessThan(10_000);
                assertThat(registry.get("meter.ingest.requests.rejected").tag("reason", "producer_buffer_full")
                        .counter().count()).isEqualTo(1.0);
                assertThat(stack.get(slow, "/health/live").statusCode()).isEqualTo(200);
            }
        }
    }

    private static double bufferAvailable(KafkaProducer<?, ?> producer) {
        return producer.metrics().entrySet().stream()
                .filter(e -> e.getKey().group().equals("producer-metrics") && e.getKey().name().equals("buffer-available-bytes"))
                .mapToDouble(e -> ((Number) e.getValue().metricValue()).doubleValue()).findFirst().orElseThrow();
    }

    private static URI uri(String path) {
        return URI.create("http://localhost:" + service.port() + path);
    }
}
