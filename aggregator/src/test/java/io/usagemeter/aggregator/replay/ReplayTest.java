package io.usagemeter.aggregator.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ReplayStatus;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
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
 * Replays on a real broker and PostgreSQL while the live aggregator and its sink keep running. Each
 * test has its own users and asserts on them only; all replay the current month. The retention test
 * truncates the events topic, so it runs last.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplayTest {

    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final Instant MONTH_START = MONTH.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);

    @TempDir
    static Path temp;

    private static TestStack kafka;
    private static TestStack postgres;
    private static DSLContext db;
    private static AggregatorConfig config;
    private static AggregatorService aggregator;
    private static KafkaProducer<String, Object> producer;
    private static final Random RANDOM = new Random(7);

    @BeforeAll
    static void start() throws Exception {
        kafka = TestStack.start();
        postgres = TestStack.withSharedBroker();
        String url = postgres.jdbcUrl("meter");
        FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
        db = DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES);
        try (Admin admin = admin()) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        config = AggregatorConfig.defaults(kafka.kafkaBootstrap(), temp.resolve("aggregator"));
        SinkConfig sink = new SinkConfig(kafka.kafkaBootstrap(), "replay-test-sink", SinkTopics.standard(), 5000,
                Duration.ofMillis(50), Duration.ofMillis(400), url, postgres.user(), postgres.password());
        aggregator = new AggregatorService(config, TIME.clock(), sink).start();
        producer = InputProducer.create(kafka.kafkaBootstrap());
    }

    @AfterAll
    static void stop() {
        if (producer != null) {
            producer.close();
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
    @Order(1)
    void anUnchangedMonthReplaysToIdenticalSummariesAndRowsAndPublishesNothing() throws Exception {
        List<UUID> users = users(20);
        List<UsageEvent> sent = events(users, 600, MONTH_START, TIME.now().minusSeconds(60), true);
        send(sent);
        Map<MonthlySummaryKey, MonthlySummary> before = settled(users);
        apiUsageSettled(users, sinkRows(sent));
        List<String> apiUsageBefore = apiUsageText(users);
        Map<TopicPartition, Long> summariesEnd = summariesEnd();

        ReplayReport report = replay(false);

        assertThat(changesOf(report, users)).isEmpty();
        assertThat(apiUsageChangesOf(report, users)).isEmpty();
        assertThat(apiUsageText(users)).as("api_usage, every column of every row").isEqualTo(apiUsageBefore);
        assertThat(report.summariesRebuilt()).isGreaterThanOrEqualTo(users.size());
        assertThat(rows(users)).isEqualTo(before);
        assertThat(stream(users)).isEqualTo(before);
        // Nothing republished: the enforcer's input, hence its limit state, is untouched.
        assertThat(summariesEnd()).isEqualTo(summariesEnd);
        assertNoTemporaries(report.jobId());
    }

    @Test
    @Order(2)
    void aMidMonthResetHoldsExactlyAsBeforeTheReplay() throws Exception {
        List<UUID> users = users(3);
        Instant now = TIME.now();
        Instant resetAt = midMonthInsideTheDedupeWindow(now);
        List<UsageEvent> early = events(users, 90, MONTH_START, resetAt, false);
        send(early);
        UUID resetUser = users.get(0);
        producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), null, resetAt.toEpochMilli(),
                resetUser.toString(), new AdminCommand.ResetUsage("reset-" + resetUser, resetUser, MONTH, resetAt,
                resetAt, "admin@test"))).get();
        List<UsageEvent> late = events(users, 90, resetAt.plusMillis(1), now.minusSeconds(60), false);
        send(late);
        Map<MonthlySummaryKey, MonthlySummary> before = settled(users);
        long countedAfterReset = late.stream().filter(e -> e.userId().equals(resetUser)).count();
        assertThat(before.get(new MonthlySummaryKey(resetUser, MONTH)).calls()).isEqualTo(countedAfterReset);

        ReplayReport report = replay(false);

        assertThat(changesOf(report, users)).isEmpty();
        assertThat(rows(users)).isEqualTo(before);
        assertThat(stream(users)).isEqualTo(before);
    }

    @Test
    @Order(3)
    void handCorruptedRowsAreRestoredFromTheStreamAndADryRunOnlyShowsThem() throws Exception {
        List<UUID> users = users(6);
        send(events(users, 300, MONTH_START, TIME.now().minusSeconds(60), true));
        Map<MonthlySummaryKey, MonthlySummary> before = settled(users);
        corrupt(users);
        Map<MonthlySummaryKey, MonthlySummary> corrupted = rows(users);
        assertThat(corrupted).isNotEqualTo(before);

        ReplayReport dryRun = replay(true);
        assertThat(changesOf(dryRun, users)).extracting(c -> c.key().userId())
                .containsExactlyInAnyOrderElementsOf(users.subList(0, 3));
        assertThat(changesOf(dryRun, users)).allSatisfy(c -> {
            assertThat(c.kind()).isEqualTo(SummaryChange.Kind.DATABASE_REPAIRED);
            assertThat(c.rebuilt()).isEqualTo(before.get(c.key()));
        });
        assertThat(rows(users)).as("a dry run writes nothing").isEqualTo(corrupted);

        ReplayReport report = replay(false);
        assertThat(changesOf(report, users)).hasSize(3);
        assertThat(rows(users)).isEqualTo(before);
        assertThat(stream(users)).isEqualTo(before);
    }

    @Test
    @Order(4)
    void twiceInARowAndAfterAnInterruptionTheResultIsTheSame() throws Exception {
        List<UUID> users = users(6);
        send(events(users, 300, MONTH_START, TIME.now().minusSeconds(60), true));
        Map<MonthlySummaryKey, MonthlySummary> before = settled(users);
        Set<ApiUsageRow> rowsBefore = apiUsage(users);
        corrupt(users);
        deleteApiUsage(rowsBefore.iterator().next());
        Map<MonthlySummaryKey, MonthlySummary> corrupted = rows(users);
        Set<ApiUsageRow> rowsCorrupted = apiUsage(users);

        Replayer replayer = replayer();
        ReplayPlan plan = replayer.plan(ReplayRange.month(MONTH), false);
        AtomicBoolean stop = new AtomicBoolean();
        assertThatThrownBy(() -> replayer.run(plan, progress -> {
            if (progress.recordsRead() > 0 || progress.recordsTotal() > 0) {
                stop.set(true); // as Ctrl-C would, once reading has begun
            }
        }, stop::get)).isInstanceOf(ReplayCancelledException.class);
        assertThat(rows(users)).as("an interrupted replay writes nothing").isEqualTo(corrupted);
        assertThat(apiUsage(users)).as("an interrupted replay writes nothing").isEqualTo(rowsCorrupted);
        assertNoTemporaries(plan.jobId());
        assertThat(latestStatus(plan.jobId()).state()).isEqualTo(ReplayStatus.State.FINISHED);

        ReplayReport first = replay(false);
        assertThat(changesOf(first, users)).hasSize(3);
        assertThat(rows(users)).isEqualTo(before);
        assertThat(apiUsage(users)).isEqualTo(rowsBefore);
        ReplayReport second = replay(false);
        assertThat(changesOf(second, users)).isEmpty();
        assertThat(apiUsageChangesOf(second, users)).isEmpty();
        assertThat(rows(users)).isEqualTo(before);
        assertThat(apiUsage(users)).isEqualTo(rowsBefore);
        assertThat(stream(users)).isEqualTo(before);
    }

    @Test
    @Order(5)
    void apiUsageIsRestoredToWhatTheSinksRulesGiveFromTheLogAndADryRunOnlyCountsIt() throws Exception {
        List<UUID> users = users(5);
        Instant now = TIME.now().minusSeconds(60);
        Instant resetAt = midMonthInsideTheDedupeWindow(now);
        List<UsageEvent> sent = new ArrayList<>(events(users, 200, MONTH_START, resetAt, true));
        // Copies re-stamped by their client: the same event, another occurred_at; the sink keeps the first.
        List<UsageEvent> restamped = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            UsageEvent original = sent.get(i * 7);
            restamped.add(restamp(original, between(MONTH_START, now)));
        }
        sent.addAll(restamped);
        // Outside the contract (units 0): the sink sends it to the dead letters, the replay must not store it.
        UsageEvent invalid = withUnits(events(users.subList(1, 2), 1, MONTH_START, now, false).get(0), 0);
        sent.add(invalid);
        send(sent);
        UUID resetUser = users.get(0);
        producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), null, resetAt.toEpochMilli(),
                resetUser.toString(), new AdminCommand.ResetUsage("reset-" + resetUser, resetUser, MONTH, resetAt,
                resetAt, "admin@test"))).get();
        List<UsageEvent> afterReset = events(users, 100, resetAt.plusMillis(1), now, false);
        send(afterReset);
        sent.addAll(afterReset);
        Set<ApiUsageRow> reference = sinkRows(sent);
        assertThat(reference).noneMatch(r -> r.eventId().equals(invalid.eventId()));
        Map<MonthlySummaryKey, MonthlySummary> summaries = settled(users);
        apiUsageSettled(users, reference);
        List<String> untouchedBefore = apiUsageText(users);

        // By hand: 5 rows deleted (one of them excluded by the reset), 4 altered, a second copy of a stored
        // event inserted, a re-stamped copy stored instead of the first, and a row of an event the log never had.
        UsageEvent swapped = restamped.get(0);
        ApiUsageRow firstCopy = reference.stream().filter(r -> r.eventId().equals(swapped.eventId())).findFirst().orElseThrow();
        List<ApiUsageRow> rows = new ArrayList<>(reference);
        rows.remove(firstCopy);
        rows.sort(java.util.Comparator.comparing(ApiUsageRow::eventId));
        ApiUsageRow excludedByReset = rows.stream().filter(r -> r.userId().equals(resetUser)
                && r.occurredAt().isBefore(resetAt)).findFirst().orElseThrow();
        rows.remove(excludedByReset);
        List<ApiUsageRow> deleted = new ArrayList<>(rows.subList(0, 4));
        deleted.add(excludedByReset);
        deleted.forEach(ReplayTest::deleteApiUsage);
        List<ApiUsageRow> altered = rows.subList(10, 14);
        var a = Tables.API_USAGE;
        db.update(a).set(a.UNITS, a.UNITS.plus(100)).where(key(altered.get(0))).execute();
        db.update(a).set(a.STATUS_CODE, 299).set(a.TOKENS, 0L).where(key(altered.get(1))).execute();
        db.update(a).set(a.PROVIDER, altered.get(2).provider().equals("github") ? "other" : "github")
                .where(key(altered.get(2))).execute();
        db.update(a).set(a.ENDPOINT, "/v1/edited").set(a.METHOD, "GET").where(key(altered.get(3))).execute();
        ApiUsageRow duplicated = rows.get(20);
        insertApiUsage(duplicated.withOccurredAt(distinctTime(duplicated, now)));
        assertThat(firstCopy.occurredAt()).isNotEqualTo(swapped.occurredAt());
        deleteApiUsage(firstCopy);
        insertApiUsage(ApiUsageRow.of(swapped));
        ApiUsageRow notInLog = ApiUsageRow.of(events(users.subList(2, 3), 1, MONTH_START, now, false).get(0));
        insertApiUsage(notInLog);
        Set<ApiUsageRow> corrupted = apiUsage(users);
        List<String> corruptedText = apiUsageText(users);
        Set<ApiUsageRow> expected = new java.util.HashSet<>(reference);
        expected.add(notInLog);

        ReplayReport dryRun = replay(true);
        assertThat(apiUsageText(users)).as("a dry run writes nothing").isEqualTo(corruptedText);
        assertThat(counts(dryRun)).containsExactly(6L, 4L, 2L, 1L);
        assertThat(apiUsageChangesOf(dryRun, users)).as("per user")
                .containsExactlyInAnyOrderElementsOf(perUser(deleted, altered, duplicated, firstCopy));

        ReplayReport report = replay(false);
        assertThat(counts(report)).containsExactly(6L, 4L, 2L, 1L);
        assertThat(apiUsage(users)).as("api_usage, every column but ingested_at").isEqualTo(expected);
        assertThat(apiUsage(users)).isNotEqualTo(corrupted);
        // Rows the replay had no reason to touch keep even their ingested_at.
        Set<ApiUsageRow> touched = new java.util.HashSet<>(deleted);
        touched.addAll(altered);
        touched.add(firstCopy);
        List<String> untouchedKeys = touched.stream().map(r -> r.eventId()).toList();
        assertThat(apiUsageText(users)).filteredOn(line -> untouchedKeys.stream().noneMatch(line::contains))
                .containsAll(untouchedBefore.stream().filter(line -> untouchedKeys.stream().noneMatch(line::contains))
                        .toList());
        // The summaries never counted what api_usage lost, and the reset holds.
        assertThat(changesOf(report, users)).isEmpty();
        assertThat(rows(users)).isEqualTo(summaries);

        ReplayReport again = replay(false);
        assertThat(apiUsageChangesOf(again, users)).isEmpty();
        assertThat(again.apiUsage().rowsKeptNotInLog()).isEqualTo(1);
        assertThat(apiUsage(users)).isEqualTo(expected);
    }

    @Test
    @Order(9)
    void aRangeOlderThanTheTopicHoldsIsRefusedNamingTheEarliestTimeAndNothingChanges() throws Exception {
        List<UUID> users = users(4);
        send(events(users, 200, MONTH_START, TIME.now().minusSeconds(60), false));
        Map<MonthlySummaryKey, MonthlySummary> before = settled(users);
        Map<TopicPartition, Long> summariesEnd = summariesEnd();
        try (Admin admin = admin()) {
            // As retention would: drop the first half of every events partition.
            Map<TopicPartition, RecordsToDelete> cut = new HashMap<>();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (int p = 0; p < Topics.USAGE_EVENTS.partitions(); p++) {
                latest.put(new TopicPartition(Topics.USAGE_EVENTS.name(), p), OffsetSpec.latest());
            }
            admin.listOffsets(latest).all().get().forEach((tp, info) ->
                    cut.put(tp, RecordsToDelete.beforeOffset(info.offset() / 2)));
            admin.deleteRecords(cut).all().get();
        }

        assertThatThrownBy(() -> replayer().plan(ReplayRange.month(MONTH), false))
                .isInstanceOf(ReplayRefusedException.class)
                .hasMessageContaining("meter.usage-events no longer holds the start of the range")
                .hasMessageMatching("(?s).*the earliest available time is \\d{4}-\\d\\d-\\d\\dT[^ ]+Z\\..*");
        assertThat(rows(users)).isEqualTo(before);
        assertThat(summariesEnd()).isEqualTo(summariesEnd);
        try (Admin admin = admin()) {
            assertThat(admin.listTopics().names().get()).noneMatch(t -> t.contains("-replay-"));
        }
    }

    // ---- helpers

    /** An api_usage row, every column but ingested_at. */
    record ApiUsageRow(UUID userId, String eventId, Instant occurredAt, String provider, String endpoint, String method,
                       int statusCode, long responseTimeMs, long requestBytes, long responseBytes, long tokens,
                       long units) {

        static ApiUsageRow of(UsageEvent e) {
            return new ApiUsageRow(e.userId(), e.eventId(), e.occurredAt(), e.provider().wireName(), e.endpoint(),
                    e.method(), e.statusCode(), e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(),
                    e.units());
        }

        ApiUsageRow withOccurredAt(Instant at) {
            return new ApiUsageRow(userId, eventId, at, provider, endpoint, method, statusCode, responseTimeMs,
                    requestBytes, responseBytes, tokens, units);
        }
    }

    /**
     * What the sink's rules give from {@code sent} (in log order: a user's events share a partition): the first
     * copy of each (user, event), all copies here lying within 36 days; events outside the contract not at all;
     * rows of events a reset excludes stay.
     */
    private static Set<ApiUsageRow> sinkRows(List<UsageEvent> sent) {
        Map<String, ApiUsageRow> first = new java.util.LinkedHashMap<>();
        for (UsageEvent e : sent) {
            if (e.units() >= 1) {
                first.putIfAbsent(e.userId() + "/" + e.eventId(), ApiUsageRow.of(e));
            }
        }
        return Set.copyOf(first.values());
    }

    private static void apiUsageSettled(List<UUID> users, Set<ApiUsageRow> reference) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300))
                .untilAsserted(() -> assertThat(apiUsage(users)).isEqualTo(reference));
    }

    private static Set<ApiUsageRow> apiUsage(List<UUID> users) {
        var a = Tables.API_USAGE;
        return Set.copyOf(db.selectFrom(a).where(a.USER_ID.in(users)).fetch(r -> new ApiUsageRow(r.getUserId(),
                r.getEventId(), r.getOccurredAt().toInstant(), r.getProvider(), r.getEndpoint(), r.getMethod(),
                r.getStatusCode(), r.getResponseTimeMs(), r.getRequestBytes(), r.getResponseBytes(), r.getTokens(),
                r.getUnits())));
    }

    /** Every column of every row of {@code users}, as PostgreSQL prints it, in key order. */
    private static List<String> apiUsageText(List<UUID> users) {
        return db.fetch("SELECT a::text FROM api_usage a WHERE a.user_id = ANY(?::uuid[]) ORDER BY user_id, event_id,"
                + " occurred_at", (Object) users.toArray(UUID[]::new)).getValues(0, String.class);
    }

    private static org.jooq.Condition key(ApiUsageRow row) {
        var a = Tables.API_USAGE;
        return a.USER_ID.eq(row.userId()).and(a.EVENT_ID.eq(row.eventId()))
                .and(a.OCCURRED_AT.eq(row.occurredAt().atOffset(ZoneOffset.UTC)));
    }

    private static void deleteApiUsage(ApiUsageRow row) {
        assertThat(db.deleteFrom(Tables.API_USAGE).where(key(row)).execute()).isEqualTo(1);
    }

    private static void insertApiUsage(ApiUsageRow r) {
        var a = Tables.API_USAGE;
        db.insertInto(a).set(a.USER_ID, r.userId()).set(a.EVENT_ID, r.eventId())
                .set(a.OCCURRED_AT, r.occurredAt().atOffset(ZoneOffset.UTC)).set(a.PROVIDER, r.provider())
                .set(a.ENDPOINT, r.endpoint()).set(a.METHOD, r.method()).set(a.STATUS_CODE, r.statusCode())
                .set(a.RESPONSE_TIME_MS, r.responseTimeMs()).set(a.REQUEST_BYTES, r.requestBytes())
                .set(a.RESPONSE_BYTES, r.responseBytes()).set(a.TOKENS, r.tokens()).set(a.UNITS, r.units())
                .execute();
    }

    private static List<ApiUsageRepair.Change> apiUsageChangesOf(ReplayReport report, List<UUID> users) {
        return report.apiUsage().changes().stream().filter(c -> users.contains(c.userId())).toList();
    }

    /** Inserted, rewritten, removed, kept: the other tests leave api_usage as the log gives it, so these are ours. */
    private static List<Long> counts(ReplayReport report) {
        ApiUsageRepair r = report.apiUsage();
        return List.of(r.rowsInserted(), r.rowsRewritten(), r.rowsRemoved(), r.rowsKeptNotInLog());
    }

    private static List<ApiUsageRepair.Change> perUser(List<ApiUsageRow> deleted, List<ApiUsageRow> altered,
                                                       ApiUsageRow duplicated, ApiUsageRow firstCopy) {
        Map<UUID, long[]> counts = new HashMap<>();
        deleted.forEach(r -> counts.computeIfAbsent(r.userId(), u -> new long[3])[0]++);
        counts.computeIfAbsent(firstCopy.userId(), u -> new long[3])[0]++;
        altered.forEach(r -> counts.computeIfAbsent(r.userId(), u -> new long[3])[1]++);
        counts.computeIfAbsent(duplicated.userId(), u -> new long[3])[2]++;
        counts.computeIfAbsent(firstCopy.userId(), u -> new long[3])[2]++;
        return counts.entrySet().stream().map(e -> new ApiUsageRepair.Change(e.getKey(), MONTH, e.getValue()[0],
                e.getValue()[1], e.getValue()[2])).toList();
    }

    private static UsageEvent restamp(UsageEvent e, Instant at) {
        return new UsageEvent(e.eventId(), e.userId(), at, e.provider(), e.endpoint(), e.method(), e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }

    private static UsageEvent withUnits(UsageEvent e, long units) {
        return new UsageEvent(e.eventId(), e.userId(), e.occurredAt(), e.provider(), e.endpoint(), e.method(),
                e.statusCode(), e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), units);
    }

    private static Instant between(Instant from, Instant to) {
        return from.plusMillis((long) (RANDOM.nextDouble() * Math.max(1, to.toEpochMilli() - from.toEpochMilli())))
                .truncatedTo(ChronoUnit.MILLIS);
    }

    private static Instant distinctTime(ApiUsageRow row, Instant now) {
        Instant at = between(MONTH_START, now);
        return at.equals(row.occurredAt()) ? at.plusMillis(1) : at;
    }

    private static Replayer replayer() {
        return new Replayer(config, db, TIME.clock(), temp.resolve("replays"), (short) 1);
    }

    private static ReplayReport replay(boolean dryRun) throws Exception {
        Replayer replayer = replayer();
        List<ReplayProgress> progress = new ArrayList<>();
        ReplayReport report = replayer.run(replayer.plan(ReplayRange.month(MONTH), dryRun), progress::add, () -> false);
        assertThat(progress).isNotEmpty();
        assertThat(progress.get(progress.size() - 1).recordsRead()).isEqualTo(progress.get(progress.size() - 1).recordsTotal());
        return report;
    }

    private static List<SummaryChange> changesOf(ReplayReport report, List<UUID> users) {
        return report.changes().stream().filter(c -> users.contains(c.key().userId())).toList();
    }

    private static List<UUID> users(int n) {
        List<UUID> users = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            users.add(UUID.randomUUID());
        }
        return users;
    }

    /** {@code count} events of {@code users} between {@code from} and {@code to}, one in five resent when {@code resends}. */
    private static List<UsageEvent> events(List<UUID> users, int count, Instant from, Instant to, boolean resends) {
        List<UsageEvent> events = new ArrayList<>();
        long span = Math.max(1, to.toEpochMilli() - from.toEpochMilli());
        for (int i = 0; i < count; i++) {
            if (resends && !events.isEmpty() && RANDOM.nextInt(5) == 0) {
                events.add(events.get(RANDOM.nextInt(events.size())));
                continue;
            }
            Instant at = from.plusMillis((long) (RANDOM.nextDouble() * span)).truncatedTo(ChronoUnit.MILLIS);
            events.add(new UsageEvent(UUID.randomUUID().toString(), users.get(RANDOM.nextInt(users.size())), at,
                    Provider.values()[RANDOM.nextInt(5)], "/v1/x", "POST", RANDOM.nextInt(5) == 0 ? 500 : 200,
                    RANDOM.nextInt(900), RANDOM.nextInt(4000), RANDOM.nextInt(9000), RANDOM.nextInt(500),
                    1 + RANDOM.nextInt(3)));
        }
        return events;
    }

    private static void send(List<UsageEvent> events) throws Exception {
        for (UsageEvent e : events) {
            producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, e.occurredAt().toEpochMilli(),
                    e.userId().toString(), e));
        }
        producer.flush();
    }

    /** Waits until the sink wrote what the aggregator published for {@code users}; returns it. */
    private static Map<MonthlySummaryKey, MonthlySummary> settled(List<UUID> users) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300)).untilAsserted(() -> {
            Map<MonthlySummaryKey, MonthlySummary> stream = stream(users);
            assertThat(stream).hasSize(users.size());
            assertThat(rows(users)).isEqualTo(stream);
        });
        return rows(users);
    }

    private static Map<MonthlySummaryKey, MonthlySummary> rows(List<UUID> users) {
        return new SummaryTable(db).read(ReplayRange.month(MONTH)).entrySet().stream()
                .filter(e -> users.contains(e.getKey().userId()))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }

    private static Map<MonthlySummaryKey, MonthlySummary> stream(List<UUID> users) {
        return LiveSummaries.read(kafka.kafkaBootstrap(), ReplayRange.month(MONTH)).summaries().entrySet().stream()
                .filter(e -> users.contains(e.getKey().userId()))
                .collect(Collectors.toMap(Map.Entry::getKey, e -> SummaryTable.stored(e.getValue().summary())));
    }

    /** Two rows inflated, one deleted. */
    private static void corrupt(List<UUID> users) {
        db.update(Tables.MONTHLY_USAGE_SUMMARY)
                .set(Tables.MONTHLY_USAGE_SUMMARY.UNITS, Tables.MONTHLY_USAGE_SUMMARY.UNITS.plus(1000))
                .set(Tables.MONTHLY_USAGE_SUMMARY.TOKENS, 0L)
                .where(Tables.MONTHLY_USAGE_SUMMARY.USER_ID.in(users.get(0), users.get(1)))
                .execute();
        db.deleteFrom(Tables.MONTHLY_USAGE_SUMMARY).where(Tables.MONTHLY_USAGE_SUMMARY.USER_ID.eq(users.get(2))).execute();
    }

    private static Map<TopicPartition, Long> summariesEnd() throws Exception {
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (int p = 0; p < Topics.USAGE_SUMMARIES.partitions(); p++) {
                request.put(new TopicPartition(Topics.USAGE_SUMMARIES.name(), p), OffsetSpec.latest());
            }
            return admin.listOffsets(request).all().get().entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
        }
    }

    private static void assertNoTemporaries(String jobId) throws Exception {
        try (Admin admin = admin()) {
            Set<String> topics = admin.listTopics().names().get();
            assertThat(topics).noneMatch(t -> t.contains("-replay-" + jobId));
            assertThat(admin.listGroups().all().get()).noneMatch(g -> g.groupId().contains("-replay-" + jobId));
        }
    }

    private static ReplayStatus latestStatus(String jobId) {
        try (KafkaConsumer<String, ReplayStatus> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.kafkaBootstrap()), new StringDeserializer(),
                Topics.REPLAYS.valueSerde().deserializer())) {
            TopicPartition tp = new TopicPartition(Topics.REPLAYS.name(), 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            ReplayStatus latest = null;
            while (consumer.position(tp) < end) {
                for (ConsumerRecord<String, ReplayStatus> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.key().equals(jobId)) {
                        latest = r.value();
                    }
                }
            }
            return latest;
        }
    }

    private static Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.kafkaBootstrap()));
    }

    /**
     * Half way between the month's start and {@code now}, but at most a day back: the aggregator applies a
     * reset inside its month only within the dedupe window (48 h) of the latest event time, which the other
     * tests' events on the same topic keep near now.
     */
    private static Instant midMonthInsideTheDedupeWindow(Instant now) {
        Instant half = MONTH_START.plusMillis((now.toEpochMilli() - MONTH_START.toEpochMilli()) / 2);
        Instant dayBack = now.minus(Duration.ofDays(1));
        return half.isAfter(dayBack) ? half : dayBack;
    }
}
