package io.usagemeter.notifier;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.kit.auth.AdminJwtSettings;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.notifier.internal.RetrySchedule;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import io.usagemeter.schema.vault.TokenKeyset;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/** The shared broker, one migrated PostgreSQL, the admin API over HTTP and a producer of limit events. */
final class NotifierTestSupport implements AutoCloseable {

    static final String ADMIN_EMAIL = "admin@example.com";
    static final String ADMIN_JWT_SECRET = "notifier-test-admin-jwt-secret-of-at-least-32-bytes";

    /** One PostgreSQL of its own and the JVM's shared broker. */
    final TestStack postgres = TestStack.withSharedBroker();
    final String bootstrap = postgres.kafkaBootstrap();
    final TokenKeyset keyset = TokenKeyset.generate();
    final String adminToken = AdminTokens.hs256(ADMIN_JWT_SECRET.getBytes(StandardCharsets.UTF_8), ADMIN_EMAIL,
            Duration.ofHours(1), Clock.systemUTC());
    private final HttpClient http = HttpClient.newHttpClient();

    NotifierTestSupport(String database) {
        FlywayMigrations.flyway(postgres.dataSource(database)).migrate();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
    }

    NotifierConfig config(String database, String groupId, String retrySchedule, boolean allowPrivate) {
        return new NotifierConfig(bootstrap, groupId, 0, postgres.jdbcUrl(database), postgres.user(), postgres.password(),
                keyset, RetrySchedule.parse("METER_WEBHOOK_RETRY_SCHEDULE", retrySchedule), allowPrivate,
                new AdminJwtSettings(ADMIN_JWT_SECRET, null, Set.of(ADMIN_EMAIL), null, null), null);
    }

    /** The environment {@code meter notifier} would run with, for a child process. */
    Map<String, String> environment(String database, String groupId, String retrySchedule) {
        return Map.ofEntries(
                Map.entry("METER_KAFKA_BOOTSTRAP", bootstrap),
                Map.entry("METER_NOTIFIER_GROUP_ID", groupId),
                Map.entry("METER_NOTIFIER_PORT", "0"),
                Map.entry("METER_DB_URL", postgres.jdbcUrl(database)),
                Map.entry("METER_DB_USER", postgres.user()),
                Map.entry("METER_DB_PASSWORD", postgres.password()),
                Map.entry("METER_TOKEN_KEYSET", keyset.toJson()),
                Map.entry("METER_WEBHOOK_RETRY_SCHEDULE", retrySchedule),
                Map.entry("METER_WEBHOOK_ALLOW_PRIVATE", "true"),
                Map.entry("METER_ADMIN_JWT_SECRET", ADMIN_JWT_SECRET),
                Map.entry("METER_ADMIN_EMAILS", ADMIN_EMAIL));
    }

    HttpResponse<String> api(int port, String method, String path, Object body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + adminToken)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : Json.write(body)));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Registers an endpoint over the admin API; the answer has {@code id} and {@code secret}. */
    JsonNode register(int port, String url, String... eventTypes) throws Exception {
        HttpResponse<String> response = api(port, "POST", "/v1/admin/webhooks",
                Map.of("url", url, "event_types", List.of(eventTypes)));
        if (response.statusCode() != 201) {
            throw new AssertionError("register answered " + response.statusCode() + ": " + response.body());
        }
        return Json.tree(response.body());
    }

    JsonNode deliveries(int port, String endpointId) throws Exception {
        HttpResponse<String> response = api(port, "GET", "/v1/admin/webhooks/" + endpointId + "/deliveries", null);
        if (response.statusCode() != 200) {
            throw new AssertionError("deliveries answered " + response.statusCode() + ": " + response.body());
        }
        return Json.tree(response.body()).get("deliveries");
    }

    /** Limit events as the enforcer writes them: keyed by user id. */
    void publish(LimitEvent... events) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), Topics.LIMIT_EVENTS.valueSerde().serializer())) {
            for (LimitEvent event : events) {
                producer.send(new ProducerRecord<>(Topics.LIMIT_EVENTS.name(), null, event.occurredAt().toEpochMilli(),
                        event.userId().toString(), event)).get(30, TimeUnit.SECONDS);
            }
        }
    }

    @Override
    public void close() {
        postgres.close();
    }
}
