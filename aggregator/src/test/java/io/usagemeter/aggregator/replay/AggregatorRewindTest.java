package io.usagemeter.aggregator.replay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
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
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rewind of the live aggregator on a real broker with the real {@link AggregatorService}: an aggregator whose
 * state was lost (so it counted on from zero, as a counting bug would) is rewound to the current month and, restarted,
 * republishes exactly what the events give; refusals change nothing. The retention test truncates the events
 * topic, so it runs last.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AggregatorRewindTest {

    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final YearMonth PREVIOUS = MONTH.minusMonths(1);
    private static final Instant MONTH_START = MONTH.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
    private static final String APP_ID = "rewind-test-aggregator";
    private static final Random RANDOM = new Random(11);

    @TempDir
    static Path temp;

    private static TestStack kafka;
    private static AggregatorConfig config;
    private static KafkaProducer<String, Object> producer;
    /** Every usage event and reset sent, in order: what the reference is computed from. */
    private static final List<UsageEvent> SENT = new ArrayList<>();
    private static final Map<UUID, Instant> RESETS = new HashMap<>();

    @BeforeAll
    static void start() {
        kafka = TestStack.start();
        try (Admin admin = admin()) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        config = AggregatorConfig.defaults(kafka.kafkaBootstrap(), temp.resolve("state")).withApplicationId(APP_ID);
        producer = InputProducer.create(kafka.kafkaBootstrap());
    }

    @AfterAll
    static void stop() {
        if (producer != null) {
            producer.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    @Order(1)
    void anAggregatorThatLostItsStateIsRewoundAndRepublishesWhatTheEventsGive() throws Exception {
        List<UUID> users = users(8);
        Instant now = TIME.now().minusSeconds(60);
        // The previous month: older events, and events in the dedupe window's lead-in before the month.
        send(events(users, 120, MONTH_START.minus(Duration.ofDays(10)), MONTH_START.minus(Duration.ofHours(48))));
        send(events(users, 120, MONTH_START.minus(Duration.ofHours(47)), MONTH_START));
        // Sent an hour before the month and again, re-stamped by its client, inside it: the second copy is a
        // duplicate only for an aggregator that read the lead-in.
        UsageEvent first = events(users.subList(0, 1), 1, MONTH_START.minus(Duration.ofHours(1)), MONTH_START).get(0);
        send(List.of(first));
        // (first in the month's batch, so the high water is still within the dedupe window of the first copy)
        List<UsageEvent> month = new ArrayList<>(List.of(restamp(first, MONTH_START.plus(Duration.ofMinutes(30)))));
        month.addAll(events(users, 300, MONTH_START, now));
        month.add(month.get(5)); // a plain resend
        send(month);
        Instant resetAt = midMonthInsideTheDedupeWindow(now);
        reset(users.get(1), resetAt);
        Map<MonthlySummaryKey, List<Long>> reference = reference(users);
        assertThat(reference.get(new MonthlySummaryKey(first.userId(), MONTH)).get(0))
                .as("the re-stamped copy is not counted").isEqualTo(monthEvents(first.userId()) - 1);

        try (AggregatorService live = new AggregatorService(config, TIME.clock()).start()) {
            awaitStream(users, reference);
        }

        // The state is lost (as a bug fix would find it wrong): the restarted aggregator counts on from zero.
        List<String> changelogs = internalTopics();
        assertThat(changelogs).isNotEmpty();
        try (Admin admin = admin()) {
            admin.deleteTopics(changelogs).all().get();
        }
        deleteTree(config.stateDir().resolve(APP_ID));
        try (AggregatorService restarted = new AggregatorService(config, TIME.clock()).start()) {
            List<UsageEvent> later = events(users, 60, now, TIME.now().minusSeconds(1));
            send(later);
            Map<MonthlySummaryKey, List<Long>> fromZero = new HashMap<>();
            for (UsageEvent e : later) {
                fromZero.merge(MonthlySummaryKey.of(e), List.of(1L, e.units()), (a, b) -> List.of(a.get(0) + 1, a.get(1) + b.get(1)));
            }
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300)).untilAsserted(() ->
                    assertThat(stream(users, MONTH)).isEqualTo(fromZero));
        }
        reference = reference(users);
        assertThat(stream(users, MONTH)).as("the stream diverges from the events").isNotEqualTo(month(reference, MONTH));
        Map<MonthlySummaryKey, List<Long>> previousBefore = stream(users, PREVIOUS);
        assertThat(previousBefore).isEqualTo(month(reference, PREVIOUS));

        AggregatorRewind rewind = rewind();
        RewindPlan plan = rewind.plan(ReplayRange.month(MONTH));
        assertThat(plan.activeMembers()).isEmpty();
        assertThat(plan.rewindTo()).isEqualTo(MONTH_START.minus(Duration.ofHours(48)));
        assertThat(plan.localStatePresent()).isTrue();
        assertThat(plan.internalTopics()).isNotEmpty().allMatch(t -> t.startsWith(APP_ID + "-"));
        assertThat(plan.positions()).extracting(p -> p.partition().topic()).containsOnly(
                Topics.USAGE_EVENTS.name(), Topics.ADMIN_COMMANDS.name());
        Map<TopicPartition, Long> atLeadIn = offsetsAt(plan.rewindTo());
        assertThat(plan.positions()).allSatisfy(p -> {
            assertThat(p.rewoundTo()).isEqualTo(atLeadIn.get(p.partition()));
            if (p.committed() != null) { // partitions the aggregator never read from have no committed offset
                assertThat(p.committed()).isGreaterThanOrEqualTo(p.rewoundTo());
            }
        });
        assertThat(plan.positions()).filteredOn(p -> p.committed() != null)
                .anySatisfy(p -> assertThat(p.committed()).isGreaterThan(p.rewoundTo()));

        RewindReport report = rewind.rewind(plan);

        Map<TopicPartition, Long> expected = new HashMap<>();
        plan.positions().forEach(p -> expected.put(p.partition(), p.rewoundTo()));
        assertThat(report.committed()).isEqualTo(expected);
        assertThat(committed()).isEqualTo(expected);
        assertThat(report.topicsDeleted()).containsExactlyInAnyOrderElementsOf(plan.internalTopics());
        assertThat(internalTopics()).isEmpty();
        assertThat(report.localStateRemoved()).isTrue();
        assertThat(config.stateDir().resolve(APP_ID)).doesNotExist();

        Map<TopicPartition, Long> summariesBefore = summariesEnd();
        try (AggregatorService rebuilt = new AggregatorService(config.withPublishFrom(MONTH), TIME.clock()).start()) {
            Map<MonthlySummaryKey, List<Long>> expectedMonth = month(reference, MONTH);
            awaitStream(users, expectedMonth, MONTH);
        }
        // The lead-in rebuilt the previous month only partly: none of it was published, so it stands as it was.
        assertThat(monthsPublishedSince(summariesBefore, users)).containsOnly(MONTH);
        assertThat(stream(users, PREVIOUS)).isEqualTo(previousBefore);
    }

    @Test
    @Order(2)
    void whileAnInstanceRunsTheRewindIsRefusedAndNothingChanges() throws Exception {
        try (AggregatorService live = new AggregatorService(config, TIME.clock()).start()) {
            await().atMost(Duration.ofSeconds(60)).until(() -> live.state() == KafkaStreams.State.RUNNING
                    && caughtUp(committed()));
            Map<TopicPartition, Long> committed = committed();
            AggregatorRewind rewind = rewind();
            RewindPlan plan = rewind.plan(ReplayRange.month(MONTH));
            assertThat(plan.activeMembers()).isNotEmpty();
            assertThat(AggregatorRewind.refusal(plan)).hasValueSatisfying(m -> assertThat(m)
                    .contains("the aggregator " + APP_ID + " is running")
                    .contains("stop every aggregator instance first")
                    .endsWith("Nothing was changed."));
            List<String> changelogs = internalTopics();

            assertThatThrownBy(() -> rewind.rewind(plan)).isInstanceOf(ReplayRefusedException.class)
                    .hasMessageContaining("stop every aggregator instance first");

            assertThat(committed()).isEqualTo(committed);
            assertThat(caughtUp(committed)).isTrue();
            assertThat(internalTopics()).isEqualTo(changelogs).isNotEmpty();
            assertThat(config.stateDir().resolve(APP_ID)).isDirectory();
        }
    }

    @Test
    @Order(3)
    void aPlanAloneChangesNothing() throws Exception {
        Map<TopicPartition, Long> committed = committed();
        List<String> changelogs = internalTopics();

        RewindPlan plan = rewind().plan(ReplayRange.month(MONTH));

        assertThat(plan.activeMembers()).isEmpty();
        assertThat(plan.positions()).allSatisfy(p -> assertThat(p.committed()).isEqualTo(committed.get(p.partition())));
        assertThat(plan.positions()).filteredOn(p -> p.committed() != null)
                .anySatisfy(p -> assertThat(p.rewoundTo()).isLessThan(p.committed()));
        assertThat(committed()).isEqualTo(committed);
        assertThat(internalTopics()).isEqualTo(changelogs).isNotEmpty();
        assertThat(config.stateDir().resolve(APP_ID)).isDirectory();
    }

    @Test
    @Order(9)
    void aRangeOlderThanTheTopicHoldsIsRefusedNamingTheEarliestTimeAndNothingChanges() throws Exception {
        Map<TopicPartition, Long> committed = committed();
        List<String> changelogs = internalTopics();
        try (Admin admin = admin()) {
            // As retention would: drop the first half of every events partition.
            Map<TopicPartition, RecordsToDelete> cut = new HashMap<>();
            inputEnds().forEach((tp, end) -> {
                if (tp.topic().equals(Topics.USAGE_EVENTS.name())) {
                    cut.put(tp, RecordsToDelete.beforeOffset(end / 2));
                }
            });
            admin.deleteRecords(cut).all().get();
        }

        assertThatThrownBy(() -> rewind().plan(ReplayRange.month(PREVIOUS)))
                .isInstanceOf(ReplayRefusedException.class)
                .hasMessageContaining("meter.usage-events no longer holds the start of the range: rewinding the"
                        + " aggregator to " + PREVIOUS)
                .hasMessageMatching("(?s).*the earliest available time is \\d{4}-\\d\\d-\\d\\dT[^ ]+Z\\. Nothing was changed\\.");
        assertThat(committed()).isEqualTo(committed);
        assertThat(internalTopics()).isEqualTo(changelogs);
    }

    // ---- helpers

    private static AggregatorRewind rewind() {
        return new AggregatorRewind(config, Duration.ofDays(35), TIME.clock());
    }

    /** Calls and units per (user, month) from the events: the first copy of each (user, event) counts; resets honoured. */
    private static Map<MonthlySummaryKey, List<Long>> reference(List<UUID> users) {
        Map<String, UsageEvent> first = new LinkedHashMap<>();
        for (UsageEvent e : SENT) {
            first.putIfAbsent(e.userId() + "/" + e.eventId(), e);
        }
        Map<MonthlySummaryKey, List<Long>> counts = new HashMap<>();
        for (UsageEvent e : first.values()) {
            Instant reset = RESETS.get(e.userId());
            boolean excluded = reset != null && e.month().equals(MONTH) && !e.occurredAt().isAfter(reset);
            if (users.contains(e.userId()) && !excluded) {
                counts.merge(MonthlySummaryKey.of(e), List.of(1L, e.units()), (a, b) -> List.of(a.get(0) + 1, a.get(1) + b.get(1)));
            }
        }
        return counts;
    }

    private static long monthEvents(UUID user) {
        return SENT.stream().filter(e -> e.userId().equals(user) && e.month().equals(MONTH))
                .map(UsageEvent::eventId).distinct().count();
    }

    private static Map<MonthlySummaryKey, List<Long>> month(Map<MonthlySummaryKey, List<Long>> all, YearMonth month) {
        return all.entrySet().stream().filter(e -> e.getKey().month().equals(month))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
    }

    private static void awaitStream(List<UUID> users, Map<MonthlySummaryKey, List<Long>> expected) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300)).untilAsserted(() -> {
            Map<MonthlySummaryKey, List<Long>> stream = new HashMap<>(stream(users, PREVIOUS));
            stream.putAll(stream(users, MONTH));
            assertThat(stream).isEqualTo(expected);
        });
    }

    private static void awaitStream(List<UUID> users, Map<MonthlySummaryKey, List<Long>> expected, YearMonth month) {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(300)).untilAsserted(() ->
                assertThat(stream(users, month)).isEqualTo(expected));
    }

    /** The latest summary per key of {@code users} on meter.usage-summaries: calls and units. */
    private static Map<MonthlySummaryKey, List<Long>> stream(List<UUID> users, YearMonth month) {
        return LiveSummaries.read(kafka.kafkaBootstrap(), ReplayRange.month(month)).summaries().entrySet().stream()
                .filter(e -> users.contains(e.getKey().userId()))
                .collect(Collectors.toMap(Map.Entry::getKey, e -> numbers(e.getValue().summary())));
    }

    private static List<Long> numbers(MonthlySummary s) {
        return List.of(s.calls(), s.units());
    }

    /** The months of the summaries of {@code users} published after {@code from}. */
    private static Set<YearMonth> monthsPublishedSince(Map<TopicPartition, Long> from, List<UUID> users)
            throws Exception {
        Set<YearMonth> months = new java.util.HashSet<>();
        try (KafkaConsumer<MonthlySummaryKey, MonthlySummary> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.kafkaBootstrap(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                Topics.USAGE_SUMMARIES.keySerde().deserializer(), Topics.USAGE_SUMMARIES.valueSerde().deserializer())) {
            Map<TopicPartition, Long> ends = summariesEnd();
            consumer.assign(from.keySet());
            from.forEach(consumer::seek);
            while (ends.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                for (ConsumerRecord<MonthlySummaryKey, MonthlySummary> r : consumer.poll(Duration.ofMillis(200))) {
                    if (users.contains(r.key().userId())) {
                        months.add(r.key().month());
                    }
                }
            }
        }
        return months;
    }

    private static Map<TopicPartition, Long> summariesEnd() throws Exception {
        return ends(Topics.USAGE_SUMMARIES.name(), Topics.USAGE_SUMMARIES.partitions(), OffsetSpec.latest());
    }

    private static Map<TopicPartition, Long> inputEnds() throws Exception {
        Map<TopicPartition, Long> ends = new HashMap<>(ends(Topics.USAGE_EVENTS.name(), Topics.USAGE_EVENTS.partitions(),
                OffsetSpec.latest()));
        ends.putAll(ends(Topics.ADMIN_COMMANDS.name(), Topics.ADMIN_COMMANDS.partitions(), OffsetSpec.latest()));
        return ends;
    }

    /** Committed up to the end of every input partition that holds records. */
    private static boolean caughtUp(Map<TopicPartition, Long> committed) throws Exception {
        return inputEnds().entrySet().stream()
                .allMatch(e -> e.getValue() == 0 || e.getValue().equals(committed.get(e.getKey())));
    }

    private static Map<TopicPartition, Long> offsetsAt(Instant time) throws Exception {
        Map<TopicPartition, Long> at = new HashMap<>();
        Map<TopicPartition, Long> ends = inputEnds();
        for (String topic : InputLog.TOPICS) {
            ends(topic, Topics.USAGE_EVENTS.partitions(), OffsetSpec.forTimestamp(time.toEpochMilli())).forEach((tp, o) ->
                    at.put(tp, o < 0 ? ends.get(tp) : o));
        }
        return at;
    }

    private static Map<TopicPartition, Long> ends(String topic, int partitions, OffsetSpec spec) throws Exception {
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (int p = 0; p < partitions; p++) {
                request.put(new TopicPartition(topic, p), spec);
            }
            return admin.listOffsets(request).all().get().entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
        }
    }

    /** The aggregator group's committed offsets on its inputs (partitions it never committed: their end, 0). */
    private static Map<TopicPartition, Long> committed() throws Exception {
        try (Admin admin = admin()) {
            Map<TopicPartition, Long> committed = new HashMap<>();
            admin.listConsumerGroupOffsets(APP_ID).partitionsToOffsetAndMetadata().get().forEach((tp, at) -> {
                if (at != null && InputLog.TOPICS.contains(tp.topic())) {
                    committed.put(tp, at.offset());
                }
            });
            return committed;
        }
    }

    private static List<String> internalTopics() throws Exception {
        try (Admin admin = admin()) {
            return admin.listTopics().names().get().stream()
                    .filter(t -> t.startsWith(APP_ID + "-") && t.endsWith("-changelog")).sorted().toList();
        }
    }

    private static void deleteTree(Path dir) throws Exception {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static List<UUID> users(int n) {
        List<UUID> users = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            users.add(UUID.randomUUID());
        }
        return users;
    }

    /** {@code count} events of {@code users} between {@code from} (inclusive) and {@code to} (exclusive). */
    private static List<UsageEvent> events(List<UUID> users, int count, Instant from, Instant to) {
        List<UsageEvent> events = new ArrayList<>();
        long span = Math.max(1, to.toEpochMilli() - from.toEpochMilli());
        for (int i = 0; i < count; i++) {
            Instant at = from.plusMillis((long) (RANDOM.nextDouble() * span)).truncatedTo(ChronoUnit.MILLIS);
            events.add(new UsageEvent(UUID.randomUUID().toString(), users.get(i % users.size()), at,
                    Provider.values()[RANDOM.nextInt(5)], "/v1/x", "POST", RANDOM.nextInt(5) == 0 ? 500 : 200,
                    RANDOM.nextInt(900), RANDOM.nextInt(4000), RANDOM.nextInt(9000), RANDOM.nextInt(500),
                    1 + RANDOM.nextInt(3)));
        }
        return events;
    }

    private static UsageEvent restamp(UsageEvent e, Instant at) {
        return new UsageEvent(e.eventId(), e.userId(), at, e.provider(), e.endpoint(), e.method(), e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }

    private static void send(List<UsageEvent> events) throws Exception {
        for (UsageEvent e : events) {
            producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, e.occurredAt().toEpochMilli(),
                    e.userId().toString(), e));
            SENT.add(e);
        }
        producer.flush();
    }

    private static void reset(UUID user, Instant at) throws Exception {
        producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), null, at.toEpochMilli(), user.toString(),
                new AdminCommand.ResetUsage("reset-" + user, user, MONTH, at, at, "admin@test"))).get();
        RESETS.put(user, at);
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
