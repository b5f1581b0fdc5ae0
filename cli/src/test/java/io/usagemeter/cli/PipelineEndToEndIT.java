package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.replay.ReplayRange;
import io.usagemeter.aggregator.replay.ReplayReport;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.net.http.HttpClient;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.Admin;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 5 end to end: the real ingest, aggregator and enforcer services on the embedded broker and
 * PostgreSQL, driven only over HTTP the way apps use them (events and referrals in, limits out),
 * plus the limit events the enforcer publishes for billing and notifications.
 */
class PipelineEndToEndIT {

    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final Duration PIPELINE = Duration.ofSeconds(90);

    @TempDir
    static Path stateDir;

    private static TestStack postgres;
    private static DataSource dataSource;
    private static DSLContext dsl;
    private static String bootstrap;
    private static final HttpClient http = HttpClient.newHttpClient();
    private static IngestService ingest;
    private static AggregatorConfig aggregatorConfig;
    private static AggregatorService aggregator;
    private static EnforcerService enforcer;
    private static String apiKey;

    @BeforeAll
    static void start() {
        postgres = TestStack.withSharedBroker();
        bootstrap = postgres.kafkaBootstrap();
        postgres.jdbcUrl("meter");
        dataSource = postgres.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        // As meter dev does: one key with every scope for the apps.
        apiKey = new ApiKeyStore(dataSource, TIME.clock()).issue("enforcer-e2e-it", ApiKeyScopes.ALL).secret();
        ingest = IngestService.create(IngestConfig.defaults(bootstrap, postgres.jdbcUrl("meter"),
                postgres.user(), postgres.password()).withPort(0), TIME.clock()).start();
        aggregatorConfig = AggregatorConfig.defaults(bootstrap, stateDir.resolve("aggregator"))
                .withApplicationId("aggregator-e2e-it");
        // With its PostgreSQL sink, as meter dev and meter aggregator run it.
        SinkConfig sink = new SinkConfig(bootstrap, "e2e-it-sink", SinkTopics.standard(), SinkConfig.DEFAULT_MAX_POLL_RECORDS,
                Duration.ofMillis(50), Duration.ofMillis(400), postgres.jdbcUrl("meter"), postgres.user(), postgres.password());
        aggregator = new AggregatorService(aggregatorConfig, TIME.clock(), sink).start();
        enforcer = new EnforcerService(EnforcerConfig.defaults(bootstrap, stateDir.resolve("enforcer"),
                postgres.jdbcUrl("meter"), postgres.user(), postgres.password()).withApplicationId("enforcer-e2e-it"), dsl,
                TIME.clock(), new Properties()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> aggregator.state() == KafkaStreams.State.RUNNING
                && enforcer.streams().state() == KafkaStreams.State.RUNNING);
    }

    @AfterAll
    static void stop() {
        if (enforcer != null) {
            enforcer.close();
        }
        if (aggregator != null) {
            aggregator.close();
        }
        if (ingest != null) {
            ingest.close();
        }
        if (postgres != null) {
            if (postgres != null) {
                postgres.close();
            }
        }
    }

    @Test
    void eventsMoveTheLimitToWarningThenExceededWithOneLimitEventPerThreshold() throws Exception {
        UUID user = UUID.randomUUID();

        postEvents(user, 0, 8, 100);
        await().atMost(PIPELINE).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(800));
        LimitAnswer warning = limit(user);
        assertThat(warning.plan()).isEqualTo("free");
        assertThat(warning.effectiveLimit()).isEqualTo(1000);
        assertThat(warning.remaining()).isEqualTo(200);
        assertThat(warning.state()).isEqualTo(LimitStatus.WARNING);
        assertThat(warning.allowed()).isTrue();

        postEvents(user, 8, 3, 100);
        await().atMost(PIPELINE).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(1100));
        LimitAnswer exceeded = limit(user);
        assertThat(exceeded.state()).isEqualTo(LimitStatus.EXCEEDED);
        assertThat(exceeded.allowed()).isFalse();
        assertThat(exceeded.remaining()).isZero();

        await().atMost(PIPELINE).untilAsserted(() -> assertThat(limitEventsOf(user))
                .extracting(LimitEvent::threshold).contains(LimitEvent.EXCEEDED_THRESHOLD));
        // Everything the enforcer has committed by now: the 100 % event was the last it had to write.
        List<LimitEvent> events = limitEventsOf(user);
        assertThat(events).extracting(LimitEvent::threshold)
                .containsExactlyInAnyOrder(LimitEvent.WARNING_THRESHOLD, LimitEvent.EXCEEDED_THRESHOLD);
        assertThat(events).allSatisfy(e -> {
            assertThat(e.month()).isEqualTo(MONTH);
            assertThat(e.effectiveLimit()).isEqualTo(1000);
        });
    }

    @Test
    void aCompletedReferralRaisesTheReferrersEffectiveLimit() throws Exception {
        UUID referrer = UUID.randomUUID();
        UUID referred = UUID.randomUUID();
        postEvents(referrer, 0, 10, 100);
        await().atMost(PIPELINE).untilAsserted(() -> assertThat(limit(referrer).state()).isEqualTo(LimitStatus.EXCEEDED));

        Map<String, Object> referral = new LinkedHashMap<>();
        referral.put("referral_id", "e2e-" + referred);
        referral.put("referrer_id", referrer.toString());
        referral.put("referred_id", referred.toString());
        referral.put("status", "completed");
        referral.put("occurred_at", recently().toString());
        HttpResponse<String> accepted = post("/v1/referrals", Json.write(referral));
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);

        await().atMost(PIPELINE).untilAsserted(() -> assertThat(limit(referrer).referralCount()).isEqualTo(1));
        LimitAnswer answer = limit(referrer);
        assertThat(answer.multiplier()).isEqualTo(0.02);
        assertThat(answer.bonusCredits()).isEqualTo(10);
        assertThat(answer.effectiveLimit()).isEqualTo((long) Math.floor(1000 * 1.02) + 10).isEqualTo(1030);
        assertThat(answer.used()).isEqualTo(1000);
        assertThat(answer.remaining()).isEqualTo(30);
        // 1000 of 1030 is past 80 %, no longer past 100 %: the referral lifts the block.
        assertThat(answer.state()).isEqualTo(LimitStatus.WARNING);
        assertThat(answer.allowed()).isTrue();
    }

    /**
     * Issue 7 through the whole pipeline: a replay of the month run beside the live services changes no
     * answer. The enforcer's limit state comes from the summaries the live aggregator publishes; the replay
     * rebuilds the month from the events, agrees with them, and so republishes nothing.
     */
    @Test
    void aReplayOfTheMonthLeavesEveryLimitAndUsageAnswerAsItWas() throws Exception {
        UUID heavy = UUID.randomUUID();
        UUID light = UUID.randomUUID();
        postEvents(heavy, 0, 9, 100);
        postEvents(light, 0, 3, 50);
        postEvents(light, 0, 3, 50); // the same three events again: counted once, before and after
        await().atMost(PIPELINE).untilAsserted(() -> {
            assertThat(limit(heavy).used()).isEqualTo(900);
            assertThat(limit(light).used()).isEqualTo(150);
        });
        // The sink has written both users' summaries: the replay compares against them too.
        await().atMost(PIPELINE).untilAsserted(() -> assertThat(storedUnits(heavy, light)).containsExactly(900L, 150L));
        Map<String, String> before = answers(heavy, light);

        Replayer replayer = new Replayer(aggregatorConfig, dsl, TIME.clock(), stateDir.resolve("replays"), (short) 1);
        ReplayReport report = replayer.run(replayer.plan(ReplayRange.month(MONTH), false), progress -> { }, () -> false);

        assertThat(report.changes()).as("changes of this test's users")
                .filteredOn(c -> c.key().userId().equals(heavy) || c.key().userId().equals(light)).isEmpty();
        assertThat(report.apiUsage().changes()).as("api_usage changes of this test's users")
                .filteredOn(c -> c.userId().equals(heavy) || c.userId().equals(light)).isEmpty();
        assertThat(report.summariesRebuilt()).isGreaterThanOrEqualTo(2);
        // The replay announced the month finished: answers are fresh again, and equal to those before it.
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(answers(heavy, light)).isEqualTo(before));
        assertThat(limit(heavy).stale()).isFalse();
        assertThat(limit(heavy).state()).isEqualTo(LimitStatus.WARNING);
    }

    /** The units of each user's summary row of the month in PostgreSQL, in the order given (absent: -1). */
    private static List<Long> storedUnits(UUID... users) {
        var summaries = Tables.MONTHLY_USAGE_SUMMARY;
        List<Long> units = new ArrayList<>();
        for (UUID user : users) {
            Long stored = dsl.select(summaries.UNITS).from(summaries).where(summaries.USER_ID.eq(user))
                    .and(summaries.MONTH.eq(MONTH.atDay(1))).fetchOne(summaries.UNITS);
            units.add(stored == null ? -1L : stored);
        }
        return units;
    }

    /** The raw bodies of the limit and usage answers of {@code users}, by path. */
    private static Map<String, String> answers(UUID... users) throws Exception {
        Map<String, String> bodies = new LinkedHashMap<>();
        for (UUID user : users) {
            for (String path : List.of("/v1/limits/" + user, "/v1/usage/" + user + "?month=" + MONTH)) {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + enforcer.port() + path)).header("Authorization", "Bearer " + apiKey)
                        .GET().build(), HttpResponse.BodyHandlers.ofString());
                assertThat(response.statusCode()).as(path + " " + response.body()).isEqualTo(200);
                bodies.put(path, response.body());
            }
        }
        return bodies;
    }

    /** {@code count} events of {@code units} each, ids numbered from {@code first}, a few minutes old (this month). */
    private static void postEvents(UUID user, int first, int count, int units) throws Exception {
        List<Map<String, Object>> batch = new ArrayList<>();
        IntStream.range(first, first + count).forEach(i -> {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("event_id", "e2e-" + user + "-" + i);
            e.put("user_id", user.toString());
            e.put("occurred_at", recently().toString());
            e.put("provider", "openai");
            e.put("endpoint", "/v1/chat/completions");
            e.put("method", "POST");
            e.put("status_code", 200);
            e.put("response_time_ms", 420);
            e.put("request_bytes", 1200);
            e.put("response_bytes", 5400);
            e.put("tokens", 321);
            e.put("units", units);
            batch.add(e);
        });
        HttpResponse<String> response = post("/v1/events", Json.write(batch));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        assertThat(Json.tree(response.body()).get("accepted").asInt()).isEqualTo(count);
    }

    /** A few minutes ago, but never in the previous month (the first minutes of a month). */
    private static Instant recently() {
        Instant monthStart = MONTH.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        Instant fewMinutesAgo = TIME.now().minus(3, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.MILLIS);
        return fewMinutesAgo.isBefore(monthStart) ? monthStart : fewMinutesAgo;
    }

    private static HttpResponse<String> post(String path, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + ingest.port() + path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + apiKey)
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static LimitAnswer limit(UUID user) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + enforcer.port() + "/v1/limits/" + user))
                .header("Authorization", "Bearer " + apiKey).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return Json.read(response.body(), LimitAnswer.class);
    }

    /** The user's limit events committed so far: read from the start up to the end offsets taken now. */
    private List<LimitEvent> limitEventsOf(UUID user) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        List<LimitEvent> events = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(p, Topics.LIMIT_EVENTS.keySerde().deserializer(),
                Topics.LIMIT_EVENTS.valueSerde().deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.LIMIT_EVENTS.name()).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                for (ConsumerRecord<String, LimitEvent> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.value().userId().equals(user)) {
                        events.add(r.value());
                    }
                }
            }
        }
        return events;
    }
}
