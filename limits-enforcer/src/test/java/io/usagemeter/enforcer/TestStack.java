package io.usagemeter.enforcer;

import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.embedded.SharedEmbeddedKafka;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.utils.Utils;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/** One migrated PostgreSQL per test class, the shared broker with every topic, and HTTP helpers. */
final class TestStack implements AutoCloseable {

    final EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start();
    final DataSource dataSource;
    final DSLContext dsl;
    final String bootstrap = SharedEmbeddedKafka.bootstrapServers();
    final HttpClient http = HttpClient.newHttpClient();
    /** An API key with the scope limits:read, sent by {@link #get}. */
    final String readKey;

    TestStack() {
        postgres.createDatabase("meter");
        dataSource = postgres.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        readKey = new ApiKeyStore(dsl, java.time.Clock.systemUTC()).issue("enforcer-tests",
                List.of(ApiKeyScopes.LIMITS_READ)).secret();
    }

    EnforcerConfig config(String applicationId, Path stateDir) {
        return EnforcerConfig.defaults(bootstrap, stateDir, postgres.jdbcUrl("meter"), EmbeddedPostgresServer.SUPERUSER, "")
                .withApplicationId(applicationId);
    }

    /** Summaries as the aggregator writes them: partitioned by user like everything keyed by user_id. */
    void publishUsage(Map<UUID, Long> unitsByUser, YearMonth month) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (var producer = new KafkaProducer<>(p, Topics.USAGE_SUMMARIES.keySerde().serializer(),
                Topics.USAGE_SUMMARIES.valueSerde().serializer())) {
            // Inside the month, also when the test's month is the one before the real time's.
            Instant monthEnd = month.plusMonths(1).atDay(1).atStartOfDay().toInstant(java.time.ZoneOffset.UTC);
            Instant at = Instant.now().isBefore(monthEnd) ? Instant.now() : monthEnd.minusMillis(1);
            unitsByUser.forEach((user, units) -> {
                MonthlySummary s = new MonthlySummary(user, month, units, units, units, 0, 0, 0, 0, 0, 0, at, at,
                        Map.of(Provider.GITHUB, units));
                int partition = Utils.toPositive(Utils.murmur2(user.toString().getBytes(StandardCharsets.UTF_8)))
                        % TopicSettings.DEFAULT_PARTITIONS;
                producer.send(new ProducerRecord<>(Topics.USAGE_SUMMARIES.name(), partition, at.toEpochMilli(), s.key(), s));
            });
        }
    }

    /** {@code GET} with the read key, as an app checking limits sends it. */
    HttpResponse<String> get(int port, String path) throws Exception {
        return getAs(port, path, "Bearer " + readKey);
    }

    /** {@code GET} with this {@code Authorization} header, or none when null. */
    HttpResponse<String> getAs(int port, String path, String authorization) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).GET();
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        return send(request.build());
    }

    /** As {@link #get}, the body as the bytes sent. */
    HttpResponse<byte[]> getBytes(int port, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Authorization", "Bearer " + readKey).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    static List<UUID> users(int n) {
        return java.util.stream.Stream.generate(UUID::randomUUID).limit(n).toList();
    }

    @Override
    public void close() {
        postgres.close();
    }
}
