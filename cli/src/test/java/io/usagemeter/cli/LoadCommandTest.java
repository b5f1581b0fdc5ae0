package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine;

/** {@code meter load} against a running ingest service on the embedded broker and PostgreSQL. */
class LoadCommandTest {

    private static EmbeddedKafkaBroker kafka;
    private static EmbeddedPostgresServer postgres;
    private static IngestService ingest;
    private static Map<String, String> env;

    @BeforeAll
    static void start() throws Exception {
        kafka = EmbeddedKafkaBroker.start();
        postgres = EmbeddedPostgresServer.start();
        String url = postgres.createDatabase("meter");
        Flyway.configure().dataSource(url, EmbeddedPostgresServer.SUPERUSER, "")
                .locations("classpath:db/migration").load().migrate();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser(EmbeddedPostgresServer.SUPERUSER);
        String apiKey = new ApiKeyStore(ds, Clock.systemUTC()).issue("load-test", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
        ingest = IngestService.create(IngestConfig.defaults(kafka.bootstrapServers(), url, EmbeddedPostgresServer.SUPERUSER, "")
                .withPort(0)).start();
        env = Map.of("METER_INGEST_URL", "http://localhost:" + ingest.port(), "METER_API_KEY", apiKey);
    }

    @AfterAll
    static void stop() {
        if (ingest != null) {
            ingest.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    private record Run(int exit, String out, String err) {}

    private static Run run(Map<String, String> environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new LoadCommand(environment)).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .setExecutionExceptionHandler(new OneLineErrors()).execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void sendsRateTimesDurationEventsOverTheGivenUsersAndReportsTheirLatency() {
        Run load = run(env, "--rate", "100", "--users", "7", "--duration", "2s", "--batch", "5");

        assertThat(load.exit()).as(load.err()).isZero();
        assertThat(load.out()).contains("events accepted 200").contains("statuses {202=40}").contains("p99");

        List<UsageEvent> events = new ArrayList<>();
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "load-test-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (var consumer = new KafkaConsumer<>(p, Topics.USAGE_EVENTS.keySerde().deserializer(),
                Topics.USAGE_EVENTS.valueSerde().deserializer())) {
            consumer.subscribe(List.of(Topics.USAGE_EVENTS.name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (events.size() < 200 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> events.add(r.value()));
            }
        }
        assertThat(events).hasSize(200);
        Set<UUID> users = new HashSet<>();
        Set<String> ids = new HashSet<>();
        events.forEach(e -> {
            users.add(e.userId());
            ids.add(e.eventId());
        });
        assertThat(users).hasSize(7);
        assertThat(ids).hasSize(200);
    }

    @Test
    void aMissingIngestUrlOrKeyIsAOneLineErrorNamingTheVariable() {
        Run noUrl = run(Map.of("METER_API_KEY", "x"), "--rate", "10");
        assertThat(noUrl.exit()).isEqualTo(1);
        assertThat(noUrl.err()).contains("METER_INGEST_URL is not set");

        Run noKey = run(Map.of("METER_INGEST_URL", "http://localhost:1"), "--rate", "10");
        assertThat(noKey.exit()).isEqualTo(1);
        assertThat(noKey.err()).contains("METER_API_KEY is not set");
    }

    @Test
    void durationsReadShortFormsInAnyCaseAndIso8601() {
        // Every unit is covered by MeterEnvironmentTest; here what --duration adds: any case, its own message.
        assertThat(LoadCommand.parseDuration("30S")).isEqualTo(Duration.ofSeconds(30));
        assertThat(LoadCommand.parseDuration("PT2M")).isEqualTo(Duration.ofMinutes(2));
        assertThatThrownBy(() -> LoadCommand.parseDuration("soon")).hasMessageContaining("--duration");
    }
}
