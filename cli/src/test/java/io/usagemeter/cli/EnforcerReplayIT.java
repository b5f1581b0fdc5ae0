package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.replay.ReplayJobs;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.cli.replay.AggregatorReplayRunner;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.embedded.TestStack;
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
import java.util.ArrayList;
import java.util.List;
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

    private static TestStack stack;
    private static String bootstrap;
    private static final HttpClient http = HttpClient.newHttpClient();
    private static ReplayJobs jobs;
    private static AggregatorService aggregator;
    private static EnforcerService enforcer;
    /** Users whose events the live aggregator counted before the tests: the replays of the month read them. */
    private static final UUID COUNTED_A = UUID.randomUUID();
    private static final UUID COUNTED_B = UUID.randomUUID();
    private static String token;

    @BeforeAll
    static void start() throws Exception {
        stack = TestStack.start();
        bootstrap = stack.kafkaBootstrap();
        FlywayMigrations.flyway(stack.dataSource("meter")).migrate();
        DSLContext dsl = DSL.using(stack.dataSource("meter"), SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        EnforcerConfig config = EnforcerConfig.defaults(bootstrap, stateDir.resolve("enforcer"), stack.jdbcUrl("meter"),
                        stack.user(), stack.password())
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
        if (stack != null) {
            stack.close();
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

        String jobId;
        // Every replay reads monthly_usage_summary before it can finish: while this transaction holds the table
        // locked, the first job cannot end, so the second request meets it running, however fast the machine.
        try (java.sql.Connection holder = stack.dataSource("meter").getConnection()) {
            holder.setAutoCommit(false);
            try (java.sql.Statement lock = holder.createStatement()) {
                lock.execute("LOCK TABLE monthly_usage_summary IN ACCESS EXCLUSIVE MODE");
            }
            HttpResponse<String> started = post("{\"month\": \"" + MONTH + "\", \"dry_run\": true}");
            assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
            assertThat(Json.tree(started.body()).fieldNames()).toIterable().containsExactly("job_id");
            jobId = Json.tree(started.body()).get("job_id").asText();
            // One at a time per process.
            HttpResponse<String> second = post("{\"month\": \"" + MONTH + "\", \"dry_run\": true}");
            assertThat(second.statusCode()).as(second.body()).isEqualTo(409);
            assertThat(Json.tree(second.body()).get("error").asText()).contains("another replay is running");
            assertThat(job(jobId).get("state").asText()).isEqualTo("running");
            holder.rollback();
        }

        JsonNode[] job = new JsonNode[1];
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            job[0] = job(jobId);
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

        // From a timestamp: every month from the one holding it to the current one, each rebuilt whole.
        Instant from = MONTH.minusMonths(1).atDay(20).atTime(13, 30).toInstant(ZoneOffset.UTC);
        HttpResponse<String> fromStarted = post("{\"from\": \"" + from + "\", \"dry_run\": true}");
        assertThat(fromStarted.statusCode()).as(fromStarted.body()).isEqualTo(202);
        String fromJobId = Json.tree(fromStarted.body()).get("job_id").asText();
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            job[0] = job(fromJobId);
            assertThat(job[0].get("state").asText()).isNotEqualTo("running");
        });
        assertThat(job[0].get("state").asText()).as(job[0].toString()).isEqualTo("succeeded");
        assertThat(job[0].get("range")).isEqualTo(Json.tree("{\"first_month\": \"" + MONTH.minusMonths(1)
                + "\", \"last_month\": \"" + MONTH + "\"}"));
        // Nothing happened in the month before; this month's two users are rebuilt as the month's replay did.
        assertThat(job[0].at("/report/summaries_rebuilt").asInt()).as(job[0].toString()).isEqualTo(2);
        List<String> changed = new ArrayList<>();
        job[0].at("/report/changes").forEach(c -> changed.add(c.at("/key/user_id").asText() + " " + c.at("/key/month").asText()));
        assertThat(changed).as(job[0].toString()).containsExactlyInAnyOrder(COUNTED_A + " " + MONTH, COUNTED_B + " " + MONTH);
        assertThat(job[0].at("/progress/records_read").asLong()).isGreaterThanOrEqualTo(5);

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
        try (java.sql.Connection c = stack.dataSource("meter").getConnection();
             java.sql.PreparedStatement insert = c.prepareStatement("INSERT INTO monthly_usage_summary"
                     + " (user_id, month, calls, units, successful_calls) VALUES (?, ?, 3, 3, 3)")) {
            insert.setObject(1, user);
            insert.setObject(2, MONTH.atDay(1));
            insert.executeUpdate();
        }
        Run overApi = meter(api, "admin", "reset-usage", user.toString(), "--dry-run");
        Run direct = meter(directEnv(), "admin", "reset-usage", user.toString(), "--dry-run");
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

    /**
     * {@code meter admin users} and {@code meter admin analytics}, over the admin API and over PostgreSQL, and
     * {@code GET /v1/admin/analytics}: the figures of three users written here, computed by hand from the
     * contract (effective limit, state at 80 % and 100 %, most used first).
     */
    @Test
    @Order(4)
    void adminUsersAndAnalyticsReportTheUsersFiguresOverTheApiAndDirectly() throws Exception {
        UUID over = UUID.randomUUID();
        UUID near = UUID.randomUUID();
        UUID light = UUID.randomUUID();
        // analytics reads the month it is given: one no other test writes. users reads the database's month.
        YearMonth reported = MONTH.minusMonths(2);
        java.time.LocalDate dbMonth;
        try (java.sql.Connection c = stack.dataSource("meter").getConnection(); java.sql.Statement st = c.createStatement()) {
            try (java.sql.ResultSet rs = st.executeQuery("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date")) {
                rs.next();
                dbMonth = rs.getObject(1, java.time.LocalDate.class);
            }
            // free: 1000 units; near has 5 referrals (+10 %, +50 credits) and 20 credits more: 1100 + 70 = 1170.
            st.execute("INSERT INTO users (id, email, plan, referral_count, bonus_credits) VALUES"
                    + " ('" + over + "', 'over-" + over + "@example.com', 'free', 0, 0),"
                    + " ('" + near + "', 'near-" + near + "@example.com', 'free', 5, 70),"
                    + " ('" + light + "', 'light-" + light + "@example.com', 'pro', 0, 0)");
            for (java.time.LocalDate month : List.of(reported.atDay(1), dbMonth)) {
                st.execute("INSERT INTO monthly_usage_summary (user_id, month, calls, units, successful_calls) VALUES"
                        + " ('" + over + "', '" + month + "', 110, 1100, 110),"
                        + " ('" + near + "', '" + month + "', 95, 950, 95),"
                        + " ('" + light + "', '" + month + "', 40, 120, 40)");
            }
        }
        Map<String, String> api = Map.of("METER_ENFORCER_URL", "http://localhost:" + enforcer.port(), "METER_ADMIN_TOKEN", token);

        HttpResponse<String> route = send(HttpRequest.newBuilder(uri("/v1/admin/analytics?month=" + reported + "&top=2"))
                .header("Authorization", "Bearer " + token).GET().build());
        assertThat(route.statusCode()).as(route.body()).isEqualTo(200);
        Run analyticsOverApi = meter(api, "admin", "analytics", "--month", reported.toString(), "--top", "2");
        Run analyticsDirect = meter(directEnv(), "admin", "analytics", "--month", reported.toString(), "--top", "2");
        assertThat(analyticsOverApi.code()).as(analyticsOverApi.err()).isZero();
        assertThat(analyticsDirect.code()).as(analyticsDirect.err()).isZero();
        for (JsonNode analytics : List.of(Json.tree(route.body()), tree(analyticsOverApi.out()), tree(analyticsDirect.out()))) {
            assertThat(analytics.get("month").asText()).isEqualTo(reported.toString());
            assertThat(analytics.get("users").asLong()).as(analytics.toString()).isEqualTo(3);
            assertThat(analytics.get("calls").asLong()).isEqualTo(110 + 95 + 40);
            assertThat(analytics.get("used").asLong()).isEqualTo(1100 + 950 + 120);
            assertThat(analytics.at("/users_by_state/ok").asInt()).isEqualTo(1);
            assertThat(analytics.at("/users_by_state/warning").asInt()).as("950 of 1170 is 81 %").isEqualTo(1);
            assertThat(analytics.at("/users_by_state/exceeded").asInt()).isEqualTo(1);
            JsonNode top = analytics.get("top_users");
            assertThat(top.findValuesAsText("user_id")).containsExactly(over.toString(), near.toString());
            assertThat(top.findValuesAsText("effective_limit")).containsExactly("1000", "1170");
            assertThat(top.findValuesAsText("state")).containsExactly("exceeded", "warning");
            assertThat(top.get(0).get("percent_used").decimalValue()).isEqualByComparingTo("110.00");
        }

        Run usersOverApi = meter(api, "admin", "users", "--limit", "3");
        Run usersDirect = meter(directEnv(), "admin", "users", "--limit", "3");
        assertThat(usersOverApi.code()).as(usersOverApi.err()).isZero();
        assertThat(usersDirect.code()).as(usersDirect.err()).isZero();
        for (JsonNode page : List.of(tree(usersOverApi.out()), tree(usersDirect.out()))) {
            JsonNode users = page.get("users");
            assertThat(users.findValuesAsText("user_id")).as(page.toString())
                    .containsExactly(over.toString(), near.toString(), light.toString());
            assertThat(users.findValuesAsText("current_month")).containsOnly(dbMonth.toString());
            assertThat(users.findValuesAsText("current_month_used")).containsExactly("1100", "950", "120");
            assertThat(users.findValuesAsText("plan")).containsExactly("free", "free", "pro");
            assertThat(users.findValuesAsText("referral_count")).containsExactly("0", "5", "0");
            assertThat(users.findValuesAsText("bonus_credits")).containsExactly("0", "70", "0");
            assertThat(users.findValuesAsText("effective_limit")).containsExactly("1000", "1170", "50000");
            assertThat(users.findValuesAsText("current_month_state")).containsExactly("exceeded", "warning", "ok");
        }
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

    /** The replay job's view over the admin API. */
    private static JsonNode job(String jobId) throws Exception {
        HttpResponse<String> r = send(HttpRequest.newBuilder(uri("/v1/admin/replay/" + jobId))
                .header("Authorization", "Bearer " + token).GET().build());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return Json.tree(r.body());
    }

    /** The variables of a {@code meter} verb that goes to PostgreSQL directly. */
    private static Map<String, String> directEnv() {
        return Map.of("METER_DB_URL", stack.jdbcUrl("meter"), "METER_DB_USER", stack.user(),
                "METER_DB_PASSWORD", stack.password());
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
