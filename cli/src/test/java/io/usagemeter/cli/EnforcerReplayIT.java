package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.replay.ReplayJobs;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.cli.replay.AggregatorReplayRunner;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ReplayStatus;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.KafkaStreams;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replay admin routes of an enforcer wired as {@code meter enforcer} wires it (the aggregator's replayer
 * behind {@link AggregatorReplayRunner}), and the stale flag of limit checks while a month is rebuilt; on the
 * embedded broker and PostgreSQL. It lives in {@code cli} because only {@code cli} sees both modules.
 *
 * <p>A replay reads everything the usage topics hold for its month, so the class has a broker of its own (usage
 * other test classes leave on a shared broker, never counted by a live aggregator, would show as divergence),
 * and the test that publishes a summary without events (to check the stale flag) runs after the replays.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class EnforcerReplayIT {

    private static final String SECRET = "replay-test-secret-of-at-least-32-bytes!!";
    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();

    @TempDir
    static Path stateDir;

    private static EmbeddedKafkaBroker kafka;
    private static String bootstrap;
    private static final HttpClient http = HttpClient.newHttpClient();
    private static EmbeddedPostgresServer postgres;
    private static ReplayJobs jobs;
    private static AggregatorService aggregator;
    private static EnforcerService enforcer;
    /** Users whose events the live aggregator counted before the tests: the replays of the month read them. */
    private static final UUID COUNTED_A = UUID.randomUUID();
    private static final UUID COUNTED_B = UUID.randomUUID();
    private static String token;

    @BeforeAll
    static void start() throws Exception {
        kafka = EmbeddedKafkaBroker.start();
        bootstrap = kafka.bootstrapServers();
        postgres = EmbeddedPostgresServer.start();
        postgres.createDatabase("meter");
        FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
        DSLContext dsl = DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        EnforcerConfig config = EnforcerConfig.defaults(bootstrap, stateDir.resolve("enforcer"), postgres.jdbcUrl("meter"),
                        EmbeddedPostgresServer.SUPERUSER, "")
                .withApplicationId("enforcer-replay-it")
                .withAdminAuth(SECRET, null, Set.of("admin@example.com"));
        AggregatorConfig aggregatorConfig = AggregatorConfig.defaults(bootstrap, stateDir.resolve("aggregator"));
        aggregator = new AggregatorService(aggregatorConfig, TIME.clock()).start();
        Replayer replayer = new Replayer(aggregatorConfig,
                dsl, TIME.clock(), stateDir.resolve("replays"), (short) 1);
        jobs = new ReplayJobs(replayer, TIME.clock());
        enforcer = new EnforcerService(config, dsl, TIME.clock(), new Properties(),
                new AggregatorReplayRunner(jobs, TIME.clock())).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> enforcer.streams().state() == KafkaStreams.State.RUNNING);
        token = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "admin@example.com", Duration.ofMinutes(10),
                TIME.clock());
        sendEvents(COUNTED_A, 3);
        sendEvents(COUNTED_B, 2);
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
            assertThat(limit(COUNTED_A).used()).isEqualTo(3);
            assertThat(limit(COUNTED_B).used()).isEqualTo(2);
        });
    }

    @AfterAll
    static void stop() {
        if (enforcer != null) {
            enforcer.close();
        }
        if (aggregator != null) {
            aggregator.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    @Order(3)
    void checksOfAMonthBeingRebuiltAnswerStaleUntilTheReplayFinishes() throws Exception {
        UUID user = UUID.randomUUID();
        publishUsage(user, 10L, MONTH);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(10));
        assertThat(limit(user).stale()).isFalse();

        Instant now = TIME.now();
        ReplayStatus running = new ReplayStatus("job-stale", MONTH, MONTH, ReplayStatus.State.RUNNING, now, now);
        announce(running);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(limit(user).stale()).isTrue());
        assertThat(limit(user).used()).as("still answered from the store").isEqualTo(10);

        announce(running.finished(TIME.now()));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(limit(user).stale()).isFalse());
    }

    @Test
    @Order(1)
    void replayJobsStartOverTheAdminApiAndReportProgressAndOutcome() throws Exception {
        HttpResponse<String> bad = post("{\"dry_run\": true}");
        assertThat(bad.statusCode()).isEqualTo(400);

        HttpResponse<String> future = post("{\"from\": \"" + TIME.now().plus(Duration.ofDays(400)) + "\"}");
        assertThat(future.statusCode()).as(future.body()).isEqualTo(400);
        assertThat(Json.tree(future.body()).at("/details/0/field").asText()).isEqualTo("from");

        HttpResponse<String> started = post("{\"month\": \"" + MONTH + "\", \"dry_run\": true}");
        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        assertThat(Json.tree(started.body()).fieldNames()).toIterable().containsExactly("job_id");
        String jobId = Json.tree(started.body()).get("job_id").asText();
        // The job just started (a replay starts a whole Streams application): one at a time per process.
        HttpResponse<String> second = post("{\"month\": \"" + MONTH + "\", \"dry_run\": true}");
        assertThat(second.statusCode()).as(second.body()).isEqualTo(409);
        assertThat(Json.tree(second.body()).get("error").asText()).contains("another replay is running");

        JsonNode[] job = new JsonNode[1];
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/v1/admin/replay/" + jobId))
                    .header("Authorization", "Bearer " + token).GET().build());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            job[0] = Json.tree(r.body());
            assertThat(job[0].get("state").asText()).isNotEqualTo("running");
        });
        assertThat(job[0].get("state").asText()).as(job[0].toString()).isEqualTo("succeeded");
        assertThat(job[0].at("/progress/records_read").asLong()).isEqualTo(job[0].at("/progress/records_total").asLong())
                .isGreaterThanOrEqualTo(5);
        assertThat(job[0].at("/report/dry_run").asBoolean()).isTrue();
        assertThat(job[0].at("/report/summaries_rebuilt").asInt()).isEqualTo(2);
        // No sink runs here, so the rows would be written (database_repaired); the live stream agrees with the rebuild.
        assertThat(job[0].at("/report/changes").findValuesAsText("kind")).as(job[0].toString())
                .hasSize(2).doesNotContain("stream_diverges");
        assertThat(job[0].at("/report/rows_repaired").asInt()).isZero();
        assertThat(job[0].at("/report/api_usage/rows_inserted").isNumber()).as(job[0].toString()).isTrue();
        assertThat(job[0].at("/report/api_usage/rows_kept_not_in_log").isNumber()).as(job[0].toString()).isTrue();
        assertThat(job[0].fieldNames()).toIterable().containsExactly(
                "job_id", "range", "dry_run", "state", "started_at", "progress", "report", "error");
        assertThat(job[0].get("range")).isEqualTo(Json.tree("{\"first_month\": \"" + MONTH + "\", \"last_month\": \"" + MONTH + "\"}"));
        // Progress and report pass through whole: every field the replayer writes, today's and tomorrow's.
        assertThat(job[0]).isEqualTo(Json.tree(Json.write(jobs.job(jobId).orElseThrow())));

        assertThat(send(HttpRequest.newBuilder(uri("/v1/admin/replay/nope"))
                .header("Authorization", "Bearer " + token).GET().build()).statusCode()).isEqualTo(404);
        assertThat(send(HttpRequest.newBuilder(uri("/v1/admin/replay/" + jobId)).GET().build()).statusCode())
                .isEqualTo(401);
    }

    @Test
    @Order(2)
    void adminVerbsOverTheApiFollowAReplayToItsEndAndResetAnswersAsDirectly() throws Exception {
        Map<String, String> api = Map.of("METER_ENFORCER_URL", "http://localhost:" + enforcer.port(),
                "METER_ADMIN_TOKEN", token);
        Run replay = meter(api, "admin", "replay", "--month", MONTH.toString(), "--dry-run");
        assertThat(replay.code()).as(replay.err()).isZero();
        assertThat(replay.err()).contains("via admin API").contains("started on the enforcer");
        assertThat(replay.out()).contains("\"state\" : \"succeeded\"").contains("\"rows_repaired\" : 0");

        // A user with usage on both paths: the stream counted COUNTED_A's 3 events; no sink runs here, so the
        // row the sink would write goes in by hand.
        UUID user = COUNTED_A;
        try (java.sql.Connection c = postgres.dataSource("meter").getConnection();
             java.sql.PreparedStatement insert = c.prepareStatement("INSERT INTO monthly_usage_summary"
                     + " (user_id, month, calls, units, successful_calls) VALUES (?, ?, 3, 3, 3)")) {
            insert.setObject(1, user);
            insert.setObject(2, MONTH.atDay(1));
            insert.executeUpdate();
        }
        Run overApi = meter(api, "admin", "reset-usage", user.toString(), "--dry-run");
        Run direct = meter(Map.of("METER_DB_URL", postgres.jdbcUrl("meter"), "METER_DB_USER", EmbeddedPostgresServer.SUPERUSER,
                "METER_DB_PASSWORD", ""), "admin", "reset-usage", user.toString(), "--dry-run");
        assertThat(overApi.code()).as(overApi.err()).isZero();
        assertThat(direct.code()).as(direct.err()).isZero();
        assertThat(direct.err()).contains("via PostgreSQL");
        JsonNode a = tree(overApi.out());
        JsonNode d = tree(direct.out());
        assertThat(d.fieldNames()).toIterable().containsExactlyElementsOf(a::fieldNames);
        assertThat(a.at("/before/used").asLong()).as(overApi.out()).isEqualTo(3);
        assertThat(a.at("/after/used").asLong()).as(overApi.out()).isZero();
        assertThat(d.get("before")).isEqualTo(a.get("before"));
        assertThat(d.get("after")).isEqualTo(a.get("after"));
        assertThat(d.get("published").asBoolean()).isFalse();
    }

    record Run(int code, String out, String err) {
    }

    private static Run meter(Map<String, String> env, String... args) {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        picocli.CommandLine cli = Meter.commandLine(env);
        cli.setOut(new java.io.PrintWriter(out, true));
        cli.setErr(new java.io.PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static JsonNode tree(String json) {
        try {
            return Json.tree(json);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + json, e);
        }
    }

    private static HttpResponse<String> post(String body) throws Exception {
        return send(HttpRequest.newBuilder(uri("/v1/admin/replay")).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private static HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(String path) {
        return URI.create("http://localhost:" + enforcer.port() + path);
    }

    private static LimitAnswer limit(UUID user) throws Exception {
        // Admins read limits with their token, as apps do with a limits:read key.
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/v1/limits/" + user))
                .header("Authorization", "Bearer " + token).GET().build());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return Json.read(response.body(), LimitAnswer.class);
    }

    /** {@code count} usage events of one unit each for {@code user}, this month, keyed and stamped as ingest does. */
    private static void sendEvents(UUID user, int count) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", bootstrap),
                new StringSerializer(), Topics.USAGE_EVENTS.valueSerde().serializer())) {
            Instant monthStart = MONTH.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
            Instant at = TIME.now().minusSeconds(60);
            at = at.isBefore(monthStart) ? monthStart : at;
            for (int i = 0; i < count; i++) {
                UsageEvent e = new UsageEvent("replay-it-" + user + "-" + i, user, at, Provider.OPENAI, "/v1/chat", "POST",
                        200, 10, 100, 100, 5, 1);
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, at.toEpochMilli(), user.toString(), e)).get();
            }
        }
    }

    /** A summary as the aggregator writes it: partitioned by user like everything keyed by user_id. */
    private static void publishUsage(UUID user, long units, YearMonth month) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", bootstrap),
                Topics.USAGE_SUMMARIES.keySerde().serializer(), Topics.USAGE_SUMMARIES.valueSerde().serializer())) {
            Instant at = TIME.now();
            MonthlySummary s = new MonthlySummary(user, month, units, units, units, 0, 0, 0, 0, 0, 0, at, at,
                    Map.of(Provider.GITHUB, units));
            int partition = Utils.toPositive(Utils.murmur2(user.toString().getBytes(StandardCharsets.UTF_8)))
                    % TopicSettings.DEFAULT_PARTITIONS;
            producer.send(new ProducerRecord<>(Topics.USAGE_SUMMARIES.name(), partition, at.toEpochMilli(), s.key(), s)).get();
        }
    }

    private static void announce(ReplayStatus status) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", bootstrap),
                new StringSerializer(), Topics.REPLAYS.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(Topics.REPLAYS.name(), status.jobId(), status)).get();
        }
    }
}
