package io.usagemeter.enforcer;

import io.usagemeter.embedded.TestMonth;
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

/**
 * One migrated PostgreSQL per test class and the JVM's shared broker with every topic (both from
 * {@link io.usagemeter.embedded.TestStack}, so embedded or on Docker), and HTTP helpers.
 */
final class TestStack implements AutoCloseable {

    final io.usagemeter.embedded.TestStack servers = io.usagemeter.embedded.TestStack.withSharedBroker();
    final DataSource dataSource;
    final DSLContext dsl;
    final String bootstrap = servers.kafkaBootstrap();
    final HttpClient http = HttpClient.newHttpClient();
    /** An API key with the scope limits:read, sent by {@link #get}. */
    final String readKey;

    TestStack() {
        dataSource = servers.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        readKey = new ApiKeyStore(dsl, java.time.Clock.systemUTC()).issue("enforcer-tests",
                List.of(ApiKeyScopes.LIMITS_READ)).secret();
    }

    EnforcerConfig config(String applicationId, Path stateDir) {
        return EnforcerConfig.defaults(bootstrap, stateDir, jdbcUrl(), servers.user(), servers.password())
                .withApplicationId(applicationId);
    }

    String jdbcUrl() {
        return servers.jdbcUrl("meter");
    }

    /**
     * An enforcer instance in a child JVM ({@link ClockedEnforcerMain}) on this stack, with the clock of
     * {@code time}: the same month and time as the test and the instances in this JVM.
     */
    ProcessBuilder enforcerProcess(TestMonth time, String applicationId, int port, Path stateDir) {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-D" + ClockedEnforcerMain.OFFSET_PROPERTY + "=" + time.offset(),
                "-cp", System.getProperty("java.class.path"), ClockedEnforcerMain.class.getName());
        pb.environment().putAll(Map.of(
                "METER_KAFKA_BOOTSTRAP", bootstrap,
                "METER_ENFORCER_APPLICATION_ID", applicationId,
                "METER_ENFORCER_PORT", Integer.toString(port),
                "METER_ENFORCER_STATE_DIR", stateDir.toString(),
                "METER_DB_URL", jdbcUrl(),
                "METER_DB_USER", servers.user(),
                "METER_DB_PASSWORD", servers.password()));
        return pb;
    }

    /** Summaries as the aggregator writes them: partitioned by user like everything keyed by user_id. */
    void publishUsage(Map<UUID, Long> unitsByUser, YearMonth month) {
        // Inside the month, also when the test's month is the one before the real time's.
        Instant monthEnd = month.plusMonths(1).atDay(1).atStartOfDay().toInstant(java.time.ZoneOffset.UTC);
        publishUsage(unitsByUser, month, Instant.now().isBefore(monthEnd) ? Instant.now() : monthEnd.minusMillis(1));
    }

    /** As {@link #publishUsage(Map, YearMonth)}, with {@code at} as the summaries' record time and event times. */
    void publishUsage(Map<UUID, Long> unitsByUser, YearMonth month, Instant at) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (var producer = new KafkaProducer<>(p, Topics.USAGE_SUMMARIES.keySerde().serializer(),
                Topics.USAGE_SUMMARIES.valueSerde().serializer())) {
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
        servers.close();
    }
}
