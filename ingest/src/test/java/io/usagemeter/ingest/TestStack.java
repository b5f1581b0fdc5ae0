package io.usagemeter.ingest;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topic;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.function.Predicate;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.flywaydb.core.Flyway;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A broker of its own and one PostgreSQL with the migrations applied (from {@link io.usagemeter.embedded.TestStack},
 * so embedded or on Docker), and helpers to talk to them.
 */
final class TestStack implements AutoCloseable {

    static final String DATABASE = "meter";

    final io.usagemeter.embedded.TestStack servers;
    final String bootstrap;
    final ApiKeyStore keys;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TestStack(io.usagemeter.embedded.TestStack servers) {
        this.servers = servers;
        this.bootstrap = servers.kafkaBootstrap();
        String url = servers.jdbcUrl(DATABASE);
        Flyway.configure().dataSource(url, servers.user(), servers.password())
                .locations("classpath:db/migration").load().migrate();
        this.keys = new ApiKeyStore(dataSource(), Clock.systemUTC());
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
    }

    static TestStack start() {
        io.usagemeter.embedded.TestStack servers = io.usagemeter.embedded.TestStack.start();
        try {
            return new TestStack(servers);
        } catch (RuntimeException e) {
            servers.close();
            throw e;
        }
    }

    /**
     * The in-process broker, for the tests that stop and restart it; they call
     * {@link io.usagemeter.embedded.TestStack#requireEmbedded} first.
     */
    EmbeddedKafkaBroker kafka() {
        return ((io.usagemeter.embedded.TestStack.Embedded) servers).kafka();
    }

    PGSimpleDataSource dataSource() {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(servers.jdbcUrl(DATABASE));
        ds.setUser(servers.user());
        ds.setPassword(servers.password());
        return ds;
    }

    IngestConfig config() {
        return IngestConfig.defaults(bootstrap, servers.jdbcUrl(DATABASE), servers.user(), servers.password()).withPort(0);
    }

    HttpResponse<String> post(IngestService service, String path, String contentType, String body, String apiKey) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + service.port() + path))
                .timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        if (apiKey != null) {
            request.header("Authorization", "Bearer " + apiKey);
        }
        return send(request.build());
    }

    HttpResponse<String> get(IngestService service, String path) {
        return send(HttpRequest.newBuilder(URI.create("http://localhost:" + service.port() + path))
                .timeout(Duration.ofSeconds(30)).GET().build());
    }

    private HttpResponse<String> send(HttpRequest request) {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A valid usage event as a JSON-ready map (insertion order kept), to be altered per test. */
    static Map<String, Object> event(String eventId, UUID userId, Instant occurredAt) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("event_id", eventId);
        e.put("user_id", userId.toString());
        e.put("occurred_at", occurredAt.toString());
        e.put("provider", "openai");
        e.put("endpoint", "/v1/chat/completions");
        e.put("method", "POST");
        e.put("status_code", 200);
        e.put("response_time_ms", 420);
        e.put("request_bytes", 1200);
        e.put("response_bytes", 5400);
        e.put("tokens", 321);
        e.put("units", 2);
        return e;
    }

    static String json(Object value) {
        return Json.write(value);
    }

    /**
     * Reads {@code topic} from the beginning until {@code done} holds for what was read matching
     * {@code filter}, or {@code timeout} passed; returns the matching records.
     */
    <K, V> List<ConsumerRecord<K, V>> read(Topic<K, V> topic, Predicate<ConsumerRecord<K, V>> filter,
                                           Predicate<List<ConsumerRecord<K, V>>> done, Duration timeout) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<ConsumerRecord<K, V>> matching = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(props, topic.keySerde().deserializer(), topic.valueSerde().deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic.name()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!done.test(matching) && System.nanoTime() < deadline) {
                for (ConsumerRecord<K, V> record : consumer.poll(Duration.ofMillis(200))) {
                    if (filter.test(record)) {
                        matching.add(record);
                    }
                }
            }
        }
        return matching;
    }

    @Override
    public void close() {
        servers.close();
    }
}
