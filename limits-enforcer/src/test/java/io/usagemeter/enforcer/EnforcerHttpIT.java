package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.usagemeter.embedded.InterruptedWipe;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.enforcer.client.LimitClient;
import io.usagemeter.enforcer.client.LimitDecision;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One enforcer on the embedded broker and PostgreSQL, checked over HTTP as apps and admins use it. */
class EnforcerHttpIT {

    private static final String SECRET = "test-secret-of-at-least-32-bytes-0123456789";
    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();

    @TempDir
    static Path stateDir;

    private static TestStack stack;
    private static EnforcerService enforcer;
    private static int port;
    private static String WRITE_ONLY_KEY;

    @BeforeAll
    static void start() {
        stack = new TestStack();
        EnforcerConfig config = stack.config("enforcer-http-it", stateDir)
                .withAdminAuth(SECRET, null, Set.of("admin@example.com"));
        enforcer = new EnforcerService(config, stack.dsl, TIME.clock(), new Properties()).start();
        port = enforcer.port();
        WRITE_ONLY_KEY = new io.usagemeter.kit.keys.ApiKeyStore(stack.dsl, TIME.clock())
                .issue("events-only", java.util.List.of(io.usagemeter.kit.keys.ApiKeyScopes.EVENTS_WRITE)).secret();
        await().atMost(Duration.ofSeconds(60))
                .until(() -> enforcer.streams().state() == org.apache.kafka.streams.KafkaStreams.State.RUNNING);
    }

    @AfterAll
    static void stop() {
        if (enforcer != null) {
            enforcer.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    private static LimitAnswer limit(UUID user) throws Exception {
        return limitFrom(port, user);
    }

    @Test
    void answersTheExplainedLimitFromTheStore() throws Exception {
        UUID user = UUID.randomUUID();
        stack.publishUsage(Map.of(user, 850L), MONTH);

        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(850));
        LimitAnswer answer = limit(user);
        assertThat(answer.plan()).isEqualTo("free");
        assertThat(answer.planUnits()).isEqualTo(1000);
        assertThat(answer.effectiveLimit()).isEqualTo(1000);
        assertThat(answer.remaining()).isEqualTo(150);
        assertThat(answer.state()).isEqualTo(LimitStatus.WARNING);
        assertThat(answer.allowed()).isTrue();
        assertThat(answer.month()).isEqualTo(MONTH);
        assertThat(answer.stale()).isFalse();

        HttpResponse<String> raw = stack.get(port, "/v1/limits/" + user);
        assertThat(Json.tree(raw.body()).fieldNames()).toIterable().containsExactlyInAnyOrder(
                "user_id", "month", "plan", "plan_units", "referral_count", "multiplier", "bonus_credits",
                "effective_limit", "used", "remaining", "state", "allowed", "resets_at", "as_of", "stale");

        HttpResponse<String> usage = stack.get(port, "/v1/usage/" + user + "?month=" + MONTH);
        assertThat(usage.statusCode()).isEqualTo(200);
        MonthlySummary summary = Json.read(usage.body(), MonthlySummary.class);
        assertThat(summary.units()).isEqualTo(850);
        assertThat(summary.callsByProvider()).containsValue(850L);
    }

    /** The answer is written once per state; a new summary makes a new answer, never the one served before. */
    @Test
    void answerFollowsEveryChangeOfTheStoredState() throws Exception {
        UUID user = UUID.randomUUID();
        stack.publishUsage(Map.of(user, 400L), MONTH);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(400));
        String first = stack.get(port, "/v1/limits/" + user).body();
        assertThat(stack.get(port, "/v1/limits/" + user).body()).isEqualTo(first);
        assertThat(limit(user).state()).isEqualTo(LimitStatus.OK);

        stack.publishUsage(Map.of(user, 1000L), MONTH);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(1000));
        LimitAnswer exceeded = limit(user);
        assertThat(exceeded.state()).isEqualTo(LimitStatus.EXCEEDED);
        assertThat(exceeded.remaining()).isZero();
        assertThat(exceeded.allowed()).isFalse();

        stack.publishUsage(Map.of(user, 10L), MONTH);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(10));
        assertThat(limit(user).remaining()).isEqualTo(990);
        assertThat(limit(user).allowed()).isTrue();
    }

    /**
     * A process killed while Kafka Streams wiped its stores leaves RocksDB files without their
     * {@code MANIFEST}: the next start restores the limits from the changelogs instead of failing.
     */
    @Test
    void restartsOnUnreadableLocalStateWithTheSameAnswers(@TempDir Path state) throws Exception {
        UUID user = UUID.randomUUID();
        EnforcerConfig config = stack.config("enforcer-state-it-" + UUID.randomUUID(), state);
        try (EnforcerService first = new EnforcerService(config, stack.dsl, TIME.clock(), new Properties()).start()) {
            stack.publishUsage(Map.of(user, 920L), MONTH);
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                    assertThat(limitFrom(first.port(), user).used()).isEqualTo(920));
        }
        InterruptedWipe.apply(state);

        try (EnforcerService second = new EnforcerService(config, stack.dsl, TIME.clock(), new Properties()).start()) {
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
                LimitAnswer answer = limitFrom(second.port(), user);
                assertThat(answer.used()).isEqualTo(920);
                assertThat(answer.state()).isEqualTo(LimitStatus.WARNING);
                assertThat(answer.stale()).isFalse();
            });
        }
    }

    /** {@code as_of} is the event time of the summary the answer reflects: it moves with each newer summary. */
    @Test
    void asOfIsTheEventTimeOfTheSummaryTheAnswerReflects() throws Exception {
        UUID user = UUID.randomUUID();
        // Whole seconds an hour and less into the past: inside MONTH (TIME is at least an hour into it).
        Instant first = TIME.now().minus(Duration.ofMinutes(50)).truncatedTo(ChronoUnit.SECONDS);
        stack.publishUsage(Map.of(user, 300L), MONTH, first);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(300));
        assertThat(limit(user).asOf()).isEqualTo(first);
        assertThat(Instant.parse(Json.tree(stack.get(port, "/v1/limits/" + user).body()).get("as_of").asText()))
                .isEqualTo(first);

        Instant later = first.plus(Duration.ofMinutes(7));
        stack.publishUsage(Map.of(user, 820L), MONTH, later);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(820));
        assertThat(limit(user).asOf()).isEqualTo(later);
        assertThat(limit(user).state()).isEqualTo(LimitStatus.WARNING);
    }

    /**
     * The clock problem of a run that starts at 23:59:59.9 UTC on the last day of a month: an enforcer and the
     * test on {@link TestMonth#around} a real clock that reads exactly that (the last tenth of a second of the
     * month before this one) agree on the month for the whole test, and the answers are that month's.
     */
    @Test
    void aRunStartedAtTheLastTenthOfASecondOfAMonthAnswersForThatMonth(@TempDir Path state) throws Exception {
        Instant edge = TIME.monthStart().minusMillis(100);
        assertThat(edge.atOffset(ZoneOffset.UTC).toLocalTime()).hasToString("23:59:59.900");
        TestMonth atEdge = TestMonth.around(Clock.offset(Clock.systemUTC(), Duration.between(Instant.now(), edge)));
        YearMonth month = atEdge.month();
        assertThat(month).isEqualTo(MONTH.minusMonths(1));
        UUID user = UUID.randomUUID();
        EnforcerConfig config = stack.config("enforcer-month-edge-it-" + UUID.randomUUID(), state);
        try (EnforcerService edgeEnforcer = new EnforcerService(config, stack.dsl, atEdge.clock(), new Properties()).start()) {
            stack.publishUsage(Map.of(user, 1000L), month, atEdge.now());
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                    assertThat(limitFrom(edgeEnforcer.port(), user).used()).isEqualTo(1000));
            LimitAnswer answer = limitFrom(edgeEnforcer.port(), user);
            assertThat(answer.month()).isEqualTo(month);
            assertThat(answer.resetsAt()).isEqualTo(TIME.monthStart());
            assertThat(answer.state()).isEqualTo(LimitStatus.EXCEEDED);
            assertThat(answer.allowed()).isFalse();
            assertThat(YearMonth.from(atEdge.now().atOffset(ZoneOffset.UTC))).as("still the same month at the end")
                    .isEqualTo(month);
        }
    }

    private static LimitAnswer limitFrom(int enforcerPort, UUID user) throws Exception {
        HttpResponse<String> response = stack.get(enforcerPort, "/v1/limits/" + user);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return Json.read(response.body(), LimitAnswer.class);
    }

    @Test
    void unknownUserGetsTheFreePlanWithZeroUsage() throws Exception {
        LimitAnswer answer = limit(UUID.randomUUID());
        assertThat(answer.plan()).isEqualTo("free");
        assertThat(answer.used()).isZero();
        assertThat(answer.effectiveLimit()).isEqualTo(1000);
        assertThat(answer.state()).isEqualTo(LimitStatus.OK);
        assertThat(answer.allowed()).isTrue();

        HttpResponse<String> usage = stack.get(port, "/v1/usage/" + UUID.randomUUID());
        assertThat(usage.statusCode()).isEqualTo(200);
        assertThat(Json.read(usage.body(), MonthlySummary.class).calls()).isZero();
    }

    @Test
    void readsNeedAnApiKeyWithTheScopeLimitsRead() throws Exception {
        UUID user = UUID.randomUUID();
        for (String path : java.util.List.of("/v1/limits/" + user, "/v1/usage/" + user)) {
            HttpResponse<String> none = stack.getAs(port, path, null);
            assertThat(none.statusCode()).as(path).isEqualTo(401);
            assertThat(none.headers().firstValue("WWW-Authenticate")).contains("Bearer");
            assertThat(Json.tree(none.body()).get("details").isArray()).isTrue();
            assertThat(stack.getAs(port, path, "Bearer " + io.usagemeter.kit.keys.ApiKeySecrets.generate()).statusCode())
                    .as("unknown key").isEqualTo(401);
            assertThat(stack.getAs(port, path, "Bearer not-a-key").statusCode()).as("malformed key").isEqualTo(401);
            HttpResponse<String> wrongScope = stack.getAs(port, path, "Bearer " + WRITE_ONLY_KEY);
            assertThat(wrongScope.statusCode()).as(path).isEqualTo(403);
            assertThat(Json.tree(wrongScope.body()).get("error").asText()).contains("limits:read");
            assertThat(stack.get(port, path).statusCode()).isEqualTo(200);
        }
        String adminToken = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "admin@example.com",
                Duration.ofMinutes(5), TIME.clock());
        assertThat(stack.getAs(port, "/v1/limits/" + user, "Bearer " + adminToken).statusCode())
                .as("admins read what apps read").isEqualTo(200);
    }

    @Test
    void theErrorAndHealthShapesAndJvmMetrics() throws Exception {
        HttpResponse<String> unknownRoute = stack.get(port, "/v1/nothing");
        assertThat(unknownRoute.statusCode()).isEqualTo(404);
        assertThat(Json.tree(unknownRoute.body()).get("error").asText()).contains("no route");
        assertThat(Json.tree(unknownRoute.body()).get("details").isArray()).isTrue();
        await().atMost(Duration.ofSeconds(60)).until(() -> stack.get(port, "/health/ready").statusCode() == 200);
        var ready = Json.tree(stack.get(port, "/health/ready").body());
        assertThat(ready.get("status").asText()).isEqualTo("UP");
        assertThat(ready.at("/checks/streams/status").asText()).isEqualTo("UP");
        assertThat(ready.at("/checks/db_writer/status").asText()).isEqualTo("UP");
        assertThat(stack.get(port, "/metrics").body()).contains("jvm_memory_used_bytes", "jvm_gc_", "jvm_threads_live_threads",
                "jvm_classes_loaded_classes", "system_cpu_count", "process_uptime_seconds",
                "meter_enforcer_request_seconds_count{route=\"limits\"", "meter_http_connections_open{service=\"enforcer\"}");
        String token = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "admin@example.com",
                Duration.ofMinutes(5), TIME.clock());
        HttpResponse<String> tooLarge = stack.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                        + "/v1/admin/users/" + UUID.randomUUID() + "/credits")).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString("{\"amount\": 1, \"command_id\": \"" + "x".repeat(70_000) + "\"}"))
                .build());
        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(Json.tree(tooLarge.body()).get("details").isArray()).isTrue();
    }

    @Test
    void aConnectionFloodLeavesTheEnforcerAlive() throws Exception {
        try (EnforcerService capped = new EnforcerService(stack.config("enforcer-flood-it", stateDir.resolve("flood"))
                .withHttpLimits(io.usagemeter.kit.HttpLimits.defaults().withMaxConnections(24)), stack.dsl,
                TIME.clock(), new Properties()).start()) {
            io.usagemeter.kit.testing.ConnectionFlood.check(capped.port(), 24, 300);
        }
    }

    @Test
    void malformedUserIdOrMonthIs400WithTheErrorFormat() throws Exception {
        HttpResponse<String> bad = stack.get(port, "/v1/limits/not-a-uuid");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(Json.tree(bad.body()).get("error").asText()).isEqualTo("malformed user id");
        assertThat(Json.tree(bad.body()).get("details").get(0).get("field").asText()).isEqualTo("user_id");

        assertThat(stack.get(port, "/v1/usage/" + UUID.randomUUID() + "?month=2026-13").statusCode()).isEqualTo(400);
    }

    @Test
    void adminRoutesNeedAnAdminToken() throws Exception {
        UUID user = UUID.randomUUID();
        String uri = "http://localhost:" + port + "/v1/admin/users/" + user + "/credits";
        HttpRequest.BodyPublisher body = HttpRequest.BodyPublishers.ofString("{\"amount\": 500}");

        assertThat(stack.send(HttpRequest.newBuilder(URI.create(uri)).POST(body).build()).statusCode()).isEqualTo(401);
        String notAdmin = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "user@example.com",
                Duration.ofMinutes(5), TIME.clock());
        assertThat(stack.send(HttpRequest.newBuilder(URI.create(uri)).header("Authorization", "Bearer " + notAdmin)
                .POST(body).build()).statusCode()).isEqualTo(403);

        String token = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "admin@example.com",
                Duration.ofMinutes(5), TIME.clock());
        HttpResponse<String> accepted = stack.send(HttpRequest.newBuilder(URI.create(uri))
                .header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString("{\"amount\": 500, \"command_id\": \"it-credits-1\"}")).build());
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        // A retry with the same command id applies once.
        stack.send(HttpRequest.newBuilder(URI.create(uri)).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString("{\"amount\": 500, \"command_id\": \"it-credits-1\"}")).build());

        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).bonusCredits()).isEqualTo(500));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(stack.dsl
                .fetchValue("SELECT bonus_credits FROM users WHERE id = ?", user)).isEqualTo(500L));
        assertThat(limit(user).effectiveLimit()).isEqualTo(1500);

        HttpResponse<String> plan = stack.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port + "/v1/admin/users/" + user + "/plan"))
                .header("Authorization", "Bearer " + token)
                .PUT(HttpRequest.BodyPublishers.ofString("{\"plan\": \"platinum\"}")).build());
        assertThat(plan.statusCode()).isEqualTo(400);

        HttpResponse<String> dryRun = stack.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port + "/v1/admin/users/" + user + "/reset-usage"))
                .header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString("{\"dry_run\": true}")).build());
        assertThat(dryRun.statusCode()).as(dryRun.body()).isEqualTo(200);
        assertThat(Json.tree(dryRun.body()).get("published").asBoolean()).isFalse();

        HttpResponse<String> users = stack.send(HttpRequest.newBuilder(
                URI.create("http://localhost:" + port + "/v1/admin/users")).header("Authorization", "Bearer " + token).build());
        assertThat(users.statusCode()).isEqualTo(200);
        assertThat(users.body()).contains(user.toString());
    }

    @Test
    void replayRoutesSayReplayIsNotAvailableWhenTheServiceHasNoReplayRunner() throws Exception {
        String token = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "admin@example.com",
                Duration.ofMinutes(5), TIME.clock());
        HttpResponse<String> start = stack.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port + "/v1/admin/replay"))
                .header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString("{\"month\": \"" + MONTH + "\", \"dry_run\": true}")).build());
        HttpResponse<String> job = stack.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + port + "/v1/admin/replay/some-job"))
                .header("Authorization", "Bearer " + token).GET().build());
        for (HttpResponse<String> r : java.util.List.of(start, job)) {
            assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
            assertThat(Json.tree(r.body()).get("error").asText()).isEqualTo("replay is not available in this process");
            assertThat(Json.tree(r.body()).get("details")).isNotEmpty();
            assertThat(r.headers().firstValue("Retry-After")).as("not a passing state").isEmpty();
        }
        // Admin routes authenticate first, as every other one.
        assertThat(stack.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/v1/admin/replay/some-job"))
                .GET().build()).statusCode()).isEqualTo(401);
    }

    @Test
    void servesMetricsAndHealth() throws Exception {
        await().atMost(Duration.ofSeconds(60)).until(() -> stack.get(port, "/health/ready").statusCode() == 200);
        assertThat(stack.get(port, "/health/live").statusCode()).isEqualTo(200);
        HttpResponse<String> metrics = stack.get(port, "/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body()).contains("kafka_stream");
    }

    /**
     * The {@code LimitClient} promises, pinned by moving the client's clock: an answer is reused within the
     * TTL and fetched again after it; while the enforcer is down, a cached answer within the staleness bound
     * decides (marked {@code STALE_CACHE}), and past the bound the fail policy does, open or closed. The
     * outage is real: a second enforcer that the clients ask is stopped.
     */
    @Test
    void limitClientCachesToleratesOutagesUpToItsBoundThenAppliesItsPolicy(@TempDir Path state) throws Exception {
        UUID user = UUID.randomUUID();
        stack.publishUsage(Map.of(user, 1200L), MONTH);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(1200));
        MutableClock clock = new MutableClock(TIME.now());
        EnforcerService outage = new EnforcerService(stack.config("enforcer-outage-it-" + UUID.randomUUID(), state),
                stack.dsl, TIME.clock(), new Properties()).start();
        Map<LimitClient.FailPolicy, LimitClient> clients = new java.util.EnumMap<>(LimitClient.FailPolicy.class);
        Map<LimitClient.FailPolicy, SimpleMeterRegistry> registries = new java.util.EnumMap<>(LimitClient.FailPolicy.class);
        try {
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() ->
                    assertThat(limitFrom(outage.port(), user).used()).isEqualTo(1200));
            for (LimitClient.FailPolicy policy : LimitClient.FailPolicy.values()) {
                registries.put(policy, new SimpleMeterRegistry());
                clients.put(policy, LimitClient.builder(URI.create("http://localhost:" + outage.port()))
                        .apiKey(stack.readKey).cacheTtl(Duration.ofSeconds(1)).maxStaleness(Duration.ofSeconds(30))
                        .failPolicy(policy).clock(clock).meterRegistry(registries.get(policy)).build());
            }
            for (LimitClient client : clients.values()) {
                LimitDecision first = client.check(user);
                assertThat(first.source()).isEqualTo(LimitDecision.Source.ENFORCER);
                assertThat(first.allowed()).isFalse();
                assertThat(first.answer().used()).isEqualTo(1200);
            }
            clock.advance(Duration.ofMillis(999));
            for (LimitClient client : clients.values()) {
                assertThat(client.check(user).source()).as("within the TTL").isEqualTo(LimitDecision.Source.CACHE);
            }
            clock.advance(Duration.ofMillis(1));
            for (LimitClient client : clients.values()) {
                LimitDecision refetched = client.check(user);
                assertThat(refetched.source()).as("the TTL is over: asked again").isEqualTo(LimitDecision.Source.ENFORCER);
                assertThat(refetched.answer().used()).isEqualTo(1200);
            }
            registries.values().forEach(registry -> assertThat(registry.get("meter.limit.client.request")
                    .tag("outcome", "200").timer().count()).as("requests sent").isEqualTo(2));
        } finally {
            outage.close();
        }

        // The enforcer is gone; the last answer was fetched at the clock's current instant.
        clock.advance(Duration.ofSeconds(30));
        for (LimitClient client : clients.values()) {
            LimitDecision stale = client.check(user);
            assertThat(stale.source()).as("30 s old: within the staleness bound").isEqualTo(LimitDecision.Source.STALE_CACHE);
            assertThat(stale.allowed()).as("the cached answer decides, not the policy").isFalse();
            assertThat(stale.answer().used()).isEqualTo(1200);
        }
        clock.advance(Duration.ofMillis(1));
        for (Map.Entry<LimitClient.FailPolicy, LimitClient> e : clients.entrySet()) {
            LimitDecision failed = e.getValue().check(user);
            assertThat(failed.source()).as("past the bound, %s", e.getKey()).isEqualTo(LimitDecision.Source.FAIL_POLICY);
            assertThat(failed.allowed()).isEqualTo(e.getKey() == LimitClient.FailPolicy.OPEN);
            assertThat(failed.answer()).isNull();
            assertThat(registries.get(e.getKey()).get("meter.limit.client.request").tag("outcome", "unreachable")
                    .timer().count()).as("each check past the TTL asked the enforcer").isEqualTo(2);
        }
    }

    /** A clock tests move by hand. */
    static final class MutableClock extends Clock {
        private volatile java.time.Instant now;

        MutableClock(java.time.Instant now) {
            this.now = now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public java.time.Instant instant() {
            return now;
        }
    }
}
