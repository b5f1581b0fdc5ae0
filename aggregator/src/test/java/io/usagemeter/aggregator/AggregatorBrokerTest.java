package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.aggregator.internal.UserPartitioner;
import io.usagemeter.embedded.InterruptedWipe;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpClient;
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
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real aggregator on the embedded broker with exactly-once: tens of thousands of random
 * events with resends and late arrivals, a few resets and one poison pill; the summaries on the
 * topic must equal a reference computed here, each in its user's partition.
 */
class AggregatorBrokerTest {

    private static final int USERS = 300;
    private static final int EVENTS = 30_000;
    /**
     * Event times in the 20 days before the last ten minutes: the broker refuses record times more than an
     * hour ahead of its clock, and the other tests' events on these topics are never later than now.
     */
    private static final Instant END = Instant.now().minus(Duration.ofMinutes(10)).truncatedTo(ChronoUnit.MILLIS);
    private static final long SPAN_MS = Duration.ofDays(20).toMillis();
    private static final Instant START = END.minusMillis(SPAN_MS);

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path stateDir;

    @BeforeAll
    static void topics() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                TestStack.sharedKafkaBootstrap()))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
    }

    /** Random users, events with retries and resets: what a test sends and what it must get. */
    private static final class Workload {
        final List<UUID> users = new ArrayList<>();
        final List<UsageEvent> distinct = new ArrayList<>();
        final List<UsageEvent> sent = new ArrayList<>();
        final List<AdminCommand.ResetUsage> resets = new ArrayList<>();
        private final Random random;

        Workload(long seed, int users) {
            random = new Random(seed);
            for (int i = 0; i < users; i++) {
                this.users.add(new UUID(random.nextLong(), i));
            }
        }

        /**
         * {@code count} more events, one in ten a retry of any earlier one, and {@code resets} more resets. The
         * first batch starts with one event per user at the end of the span, so the clock of every partition
         * is at its end from the start: every retry is inside the dedupe window (it counts once), every reset
         * too (it is applied), whatever else the topics hold.
         */
        Workload add(int count, int resets) {
            List<UsageEvent> batch = new ArrayList<>();
            List<AdminCommand.ResetUsage> resetBatch = new ArrayList<>();
            if (sent.isEmpty()) {
                for (UUID user : users) {
                    UsageEvent clock = new UsageEvent("clock-" + user, user, END, Provider.OTHER, "/api", "GET", 200,
                            1, 1, 1, 0, 1);
                    distinct.add(clock);
                    batch.add(clock);
                }
            }
            for (int i = 0; i < count; i++) {
                int earlier = sent.size() + batch.size();
                if (earlier > 0 && random.nextInt(10) == 0) {
                    int pick = random.nextInt(earlier);
                    batch.add(pick < sent.size() ? sent.get(pick) : batch.get(pick - sent.size()));
                    continue;
                }
                UsageEvent e = new UsageEvent("evt-" + (distinct.size()), users.get(random.nextInt(users.size())),
                        randomTime(), Provider.values()[random.nextInt(5)], "/api", "POST",
                        random.nextInt(4) == 0 ? 500 : 200, random.nextInt(2_000), random.nextInt(5_000),
                        random.nextInt(50_000), random.nextInt(1_000), 1 + random.nextInt(3));
                distinct.add(e);
                batch.add(e);
            }
            for (int i = 0; i < resets; i++) {
                // Inside the dedupe window of the latest event time however the partitions interleave.
                Instant at = END.minus(Duration.ofHours(36))
                        .plusMillis((long) (random.nextDouble() * Duration.ofHours(36).toMillis()));
                resetBatch.add(new AdminCommand.ResetUsage("reset-" + this.resets.size() + "-" + i,
                        users.get(random.nextInt(users.size())), YearMonth.from(at.atOffset(ZoneOffset.UTC)), at, at,
                        "admin@test"));
            }
            sent.addAll(batch);
            this.resets.addAll(resetBatch);
            lastEvents = batch;
            lastResets = resetBatch;
            return this;
        }

        List<UsageEvent> lastEvents = List.of();
        List<AdminCommand.ResetUsage> lastResets = List.of();

        private Instant randomTime() {
            return START.plusMillis((long) (random.nextDouble() * SPAN_MS));
        }

        /** The contract's summaries ({@link UsageReference}): each distinct event once, filtered by its month's latest reset. */
        Map<MonthlySummaryKey, MonthlySummary> reference() {
            UsageReference reference = new UsageReference(ResetHorizon.DEFAULT_MONTHS);
            distinct.forEach(reference::countOnce);
            resets.forEach(r -> assertThat(reference.reset(r.userId(), r.month(), r.resetAt()))
                    .as("reset %s within the horizon", r.commandId()).isTrue());
            return reference.summaries();
        }
    }

    /** What the summaries and dead-letter topics hold for one workload's users. */
    private static final class Observed {
        final Map<MonthlySummaryKey, MonthlySummary> latest = new HashMap<>();
        final Map<MonthlySummaryKey, Integer> partitions = new HashMap<>();
        final List<ConsumerRecord<byte[], byte[]>> deadLetters = new ArrayList<>();
    }

    /** Reads both topics from the start until the summaries of {@code workload}'s users equal its reference. */
    private static Observed awaitReference(Workload workload, int deadLettersExpected) {
        return awaitReference(workload.users, workload.reference(), deadLettersExpected);
    }

    /** Reads both topics from the start until the summaries of {@code forUsers} equal {@code reference}. */
    private static Observed awaitReference(List<UUID> forUsers, Map<MonthlySummaryKey, MonthlySummary> reference,
                                           int deadLettersExpected) {
        Set<UUID> users = Set.copyOf(forUsers);
        Set<String> userKeys = users.stream().map(UUID::toString).collect(Collectors.toSet());
        Observed observed = new Observed();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            consumer.subscribe(List.of(Topics.USAGE_SUMMARIES.name(), Topics.DEAD_LETTER.name()));
            await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(10)).until(() -> {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.topic().equals(Topics.DEAD_LETTER.name())) {
                        if (r.key() != null && userKeys.contains(new String(r.key(), StandardCharsets.UTF_8))) {
                            observed.deadLetters.add(r);
                        }
                        continue;
                    }
                    MonthlySummaryKey key = Topics.USAGE_SUMMARIES.keySerde().deserializer().deserialize(r.topic(), r.key());
                    if (users.contains(key.userId())) {
                        observed.latest.put(key,
                                Topics.USAGE_SUMMARIES.valueSerde().deserializer().deserialize(r.topic(), r.value()));
                        observed.partitions.put(key, r.partition());
                    }
                }
                return observed.latest.equals(reference) && observed.deadLetters.size() >= deadLettersExpected;
            });
        }
        assertThat(observed.latest).isEqualTo(reference);
        return observed;
    }

    @Test
    void summaries_on_the_topic_equal_the_reference() throws Exception {
        Workload workload = new Workload(20280229L, USERS).add(EVENTS, 20);
        AggregatorConfig config = AggregatorConfig.defaults(TestStack.sharedKafkaBootstrap(), stateDir)
                .withApplicationId("aggregator-it-" + UUID.randomUUID());
        try (AggregatorService service = new AggregatorService(config, Clock.systemUTC()).start()) {
            long startedAt = System.nanoTime();
            produce(workload.lastEvents, workload.lastResets, true);

            Observed observed = awaitReference(workload, 1);
            System.out.printf("aggregated %d events (%d distinct) into %d summaries in %d ms%n", workload.sent.size(),
                    workload.distinct.size(), observed.latest.size(), (System.nanoTime() - startedAt) / 1_000_000);

            observed.partitions.forEach((key, partition) -> assertThat(partition).as("partition of %s", key)
                    .isEqualTo(UserPartitioner.partitionOf(key.userId(), TopicSettings.DEFAULT_PARTITIONS)));
            assertThat(observed.deadLetters).hasSize(1);
            DeadLetter letter = Topics.DEAD_LETTER.valueSerde().deserializer()
                    .deserialize(Topics.DEAD_LETTER.name(), observed.deadLetters.get(0).value());
            assertThat(letter.stage()).isEqualTo("aggregator.deserialization");
            assertThat(letter.topic()).isEqualTo(Topics.USAGE_EVENTS.name());
            assertThat(new String(observed.deadLetters.get(0).headers().lastHeader("__streams.errors.offset").value(),
                    StandardCharsets.UTF_8)).isEqualTo(Long.toString(letter.offset()));
            assertThat(service.state()).isEqualTo(KafkaStreams.State.RUNNING);

            HttpResponse<String> ready = get(service, "/health/ready");
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(ready.body()).contains("RUNNING");
            assertThat(get(service, "/health/live").statusCode()).isEqualTo(200);
            HttpResponse<String> metrics = get(service, "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("kafka_stream_").contains("jvm_memory_used_bytes", "jvm_gc_",
                    "jvm_threads_live_threads", "jvm_classes_loaded_classes", "system_cpu_count", "process_uptime_seconds");
        }
    }

    /** With the default heap bound nothing is spilled here; with 100, most of the dedupe memory is in sorted runs. */
    @ParameterizedTest(name = "{0} events of the dedupe memory on the heap per task")
    @ValueSource(ints = {AggregatorConfig.DEFAULT_DEDUPE_HEAP_EVENTS, 100})
    void dedupe_and_resets_hold_after_a_restart_on_an_empty_state_directory(int heapEvents, @TempDir Path firstState,
                                                                          @TempDir Path secondState) {
        // Users of its own per variant: the topics are shared, and each variant's application reads them from the
        // start.
        Workload workload = new Workload(4242L + heapEvents, 40).add(3_000, 8);
        String applicationId = "aggregator-restart-" + UUID.randomUUID();
        try (AggregatorService service = new AggregatorService(
                AggregatorConfig.defaults(TestStack.sharedKafkaBootstrap(), firstState)
                        .withApplicationId(applicationId).withDedupeHeapEvents(heapEvents), Clock.systemUTC()).start()) {
            produce(workload.lastEvents, workload.lastResets, false);
            awaitReference(workload, 0);
        }

        // A new state directory: every store (recent events, summaries, resets) is restored from its changelog.
        workload.add(3_000, 8);
        try (AggregatorService service = new AggregatorService(
                AggregatorConfig.defaults(TestStack.sharedKafkaBootstrap(), secondState)
                        .withApplicationId(applicationId).withDedupeHeapEvents(heapEvents), Clock.systemUTC()).start()) {
            produce(workload.lastEvents, workload.lastResets, false);
            awaitReference(workload, 0);
        }
    }

    /**
     * Summaries are published once per commit interval (8 s here). An aggregator stopped inside its first interval
     * has counted events but published nothing; its stop commits the counts, the dedupe memory and the
     * months still to publish, and the next start publishes them: the topic ends exact, retries once.
     */
    @Test
    void summaries_counted_inside_a_publication_interval_are_published_after_a_restart(@TempDir Path state)
            throws Exception {
        Workload workload = new Workload(4545L, 40).add(3_000, 4);
        String applicationId = "aggregator-interval-" + UUID.randomUUID();
        AggregatorConfig slow = AggregatorConfig.fromEnv(Map.of(
                        "METER_KAFKA_BOOTSTRAP", TestStack.sharedKafkaBootstrap(),
                        "METER_AGGREGATOR_STATE_DIR", state.toString(),
                        "METER_AGGREGATOR_HTTP_PORT", "0",
                        "METER_AGGREGATOR_COMMIT_INTERVAL", "PT8S"))
                .withApplicationId(applicationId);
        try (AggregatorService service = new AggregatorService(slow, Clock.systemUTC()).start()) {
            produce(workload.lastEvents, workload.lastResets, false);
            // Less than the 8 s after the tasks start when the first publication falls due (and the commit
            // interval cannot exceed the transactions' 10 s timeout).
            Thread.sleep(4_000);
        }
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            consumer.subscribe(List.of(Topics.USAGE_SUMMARIES.name()));
            Set<UUID> users = Set.copyOf(workload.users);
            long published = 0;
            for (int i = 0; i < 5; i++) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(300))) {
                    if (users.contains(Topics.USAGE_SUMMARIES.keySerde().deserializer().deserialize(r.topic(), r.key())
                            .userId())) {
                        published++;
                    }
                }
            }
            assertThat(published).as("nothing published inside the first interval").isZero();
        }

        workload.add(1_000, 0);
        AggregatorConfig fast = AggregatorConfig.defaults(TestStack.sharedKafkaBootstrap(), state)
                .withApplicationId(applicationId);
        try (AggregatorService service = new AggregatorService(fast, Clock.systemUTC()).start()) {
            produce(workload.lastEvents, workload.lastResets, false);
            awaitReference(workload, 0);
        }
    }

    /**
     * The traffic of {@code meter dev --demo} ({@link DemoLikeTraffic}: a month of each user's events in event-time
     * order, late ones, resends) with 100 events of the dedupe memory on the heap, so that runs are spilled, segments
     * dropped and entries carried out of them while it runs. Half of it, then a restart on an empty state directory
     * (every store restored from its changelog), then the rest and the demo's reset of its heaviest user: each
     * accepted event counts once, the reset month is empty.
     */
    @Test
    void demo_traffic_counts_every_accepted_event_once_across_a_restore_from_the_changelogs(@TempDir Path firstState,
                                                                                            @TempDir Path secondState) {
        DemoLikeTraffic traffic = new DemoLikeTraffic(4646L, 40, END);
        List<UsageEvent> firstHalf = traffic.sendOrder.subList(0, traffic.sendOrder.size() / 2);
        List<UsageEvent> secondHalf = traffic.sendOrder.subList(traffic.sendOrder.size() / 2, traffic.sendOrder.size());
        String applicationId = "aggregator-demo-" + UUID.randomUUID();
        AggregatorConfig first = AggregatorConfig.defaults(TestStack.sharedKafkaBootstrap(), firstState)
                .withApplicationId(applicationId).withDedupeHeapEvents(100);
        UsageReference halfway = new UsageReference(ResetHorizon.DEFAULT_MONTHS);
        firstHalf.forEach(halfway::countOnce);
        try (AggregatorService service = new AggregatorService(first, Clock.systemUTC()).start()) {
            produce(firstHalf, List.of(), false);
            awaitReference(traffic.users, halfway.summaries(), 0);
        }

        UUID heaviest = traffic.heaviest();
        AdminCommand.ResetUsage reset = new AdminCommand.ResetUsage("reset-demo-" + applicationId, heaviest,
                traffic.currentMonth, END, END, "admin@test");
        UsageReference reference = new UsageReference(ResetHorizon.DEFAULT_MONTHS);
        traffic.sendOrder.forEach(reference::countOnce);
        assertThat(reference.reset(heaviest, traffic.currentMonth, END)).isTrue();
        AggregatorConfig second = AggregatorConfig.defaults(TestStack.sharedKafkaBootstrap(), secondState)
                .withApplicationId(applicationId).withDedupeHeapEvents(100);
        try (AggregatorService service = new AggregatorService(second, Clock.systemUTC()).start()) {
            produce(secondHalf, List.of(), false);
            // The last event again (a duplicate), then the reset after everything, as the demo's admin does.
            produce(List.of(secondHalf.get(secondHalf.size() - 1)), List.of(reset), false);
            Observed observed = awaitReference(traffic.users, reference.summaries(), 0);
            assertThat(observed.latest.get(new MonthlySummaryKey(heaviest, traffic.currentMonth)).calls()).isZero();
        }
    }

    /**
     * A process killed while Kafka Streams wiped its stores leaves RocksDB files without their
     * {@code MANIFEST}; the next start must not fail on them but restore the stores from the changelogs.
     */
    @Test
    void dedupe_and_resets_hold_after_a_restart_on_unreadable_local_state(@TempDir Path state) throws Exception {
        Workload workload = new Workload(4343L, 40).add(3_000, 8);
        AggregatorConfig config = AggregatorConfig.defaults(TestStack.sharedKafkaBootstrap(), state)
                .withApplicationId("aggregator-damaged-" + UUID.randomUUID());
        try (AggregatorService service = new AggregatorService(config, Clock.systemUTC()).start()) {
            produce(workload.lastEvents, workload.lastResets, false);
            awaitReference(workload, 0);
        }
        InterruptedWipe.apply(state);

        workload.add(3_000, 8);
        try (AggregatorService service = new AggregatorService(config, Clock.systemUTC()).start()) {
            produce(workload.lastEvents, workload.lastResets, false);
            awaitReference(workload, 0);
        }
    }

    private static HttpResponse<String> get(AggregatorService service, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + service.httpPort() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Events as ingest sends them (keyed by user, record time = occurred_at), resets spread among them, one poison pill. */
    private static void produce(List<UsageEvent> events, List<AdminCommand.ResetUsage> resets, boolean poisonPill) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestStack.sharedKafkaBootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        String eventsTopic = Topics.USAGE_EVENTS.name();
        String commandsTopic = Topics.ADMIN_COMMANDS.name();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            int resetEvery = Math.max(1, events.size() / Math.max(1, resets.size()));
            for (int i = 0; i < events.size(); i++) {
                UsageEvent e = events.get(i);
                producer.send(new ProducerRecord<>(eventsTopic, null, e.occurredAt().toEpochMilli(),
                        Topics.USAGE_EVENTS.keySerde().serializer().serialize(eventsTopic, e.userId().toString()),
                        Topics.USAGE_EVENTS.valueSerde().serializer().serialize(eventsTopic, e)));
                if (i % resetEvery == resetEvery / 2 && i / resetEvery < resets.size()) {
                    AdminCommand.ResetUsage r = resets.get(i / resetEvery);
                    producer.send(new ProducerRecord<>(commandsTopic, null, r.issuedAt().toEpochMilli(),
                            Topics.ADMIN_COMMANDS.keySerde().serializer().serialize(commandsTopic, r.userId().toString()),
                            Topics.ADMIN_COMMANDS.valueSerde().serializer().serialize(commandsTopic, r)));
                }
                if (poisonPill && i == events.size() / 3) {
                    producer.send(new ProducerRecord<>(eventsTopic, e.userId().toString().getBytes(StandardCharsets.UTF_8),
                            "{\"event_id\":".getBytes(StandardCharsets.UTF_8)));
                }
            }
            producer.flush();
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestStack.sharedKafkaBootstrap());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "aggregator-it-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5_000);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return new KafkaConsumer<>(p);
    }
}
