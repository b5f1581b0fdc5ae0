package io.usagemeter.aggregator.sink;

import static io.usagemeter.aggregator.sink.SinkFixtures.event;
import static io.usagemeter.aggregator.sink.SinkFixtures.events;
import static io.usagemeter.aggregator.sink.SinkFixtures.finalSummaries;
import static io.usagemeter.aggregator.sink.SinkFixtures.readEvents;
import static io.usagemeter.aggregator.sink.SinkFixtures.readOffsets;
import static io.usagemeter.aggregator.sink.SinkFixtures.readSummaries;
import static io.usagemeter.aggregator.sink.SinkFixtures.runningSummaries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.serde.EventSerdes;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The sink on a real broker and a real PostgreSQL, fed by a transactional producer as the aggregator does. */
class UsageSinkTest {

    private static TestStack server;
    private static DataSource dataSource;

    @BeforeAll
    static void start() {
        TestStack.sharedKafkaBootstrap();
        server = TestStack.withSharedBroker();
        server.jdbcUrl("meter");
        dataSource = server.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
    }

    @BeforeEach
    void emptyTables() throws Exception {
        db(d -> d.truncate(Tables.API_USAGE, Tables.MONTHLY_USAGE_SUMMARY, Tables.SINK_OFFSETS).execute());
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void writesLatestSummariesAndEventsOnceSkipsAbortedAndParksUnreadable() throws Exception {
        try (SinkTopicsFixture kafka = SinkTopicsFixture.create("sink-basic", 3)) {
            List<UsageEvent> events = events(11, 20, 300);
            List<MonthlySummary> emitted = runningSummaries(events);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            events.forEach(e -> records.add(kafka.event(e)));
            events.subList(0, 50).forEach(e -> records.add(kafka.event(e))); // redelivered duplicates
            emitted.forEach(s -> records.add(kafka.summary(s)));
            kafka.commit(records, 100);
            // An aborted transaction with absurd values: must never reach the tables.
            UsageEvent ghost = event(UUID.randomUUID(), "ghost", Instant.parse("2026-01-25T00:00:00Z"), Provider.OTHER, 200, 1);
            MonthlySummary inflated = emitted.get(emitted.size() - 1).plus(
                    event(emitted.get(emitted.size() - 1).userId(), "inflated",
                            emitted.get(emitted.size() - 1).month().atDay(2).atStartOfDay().toInstant(java.time.ZoneOffset.UTC),
                            Provider.OPENAI, 200, 1000));
            kafka.abort(List.of(kafka.event(ghost), kafka.summary(inflated)));
            ProducerRecord<byte[], byte[]> unreadable = new ProducerRecord<>(kafka.topics.usageEvents(),
                    "k".getBytes(StandardCharsets.UTF_8), "{not json".getBytes(StandardCharsets.UTF_8));
            kafka.commit(List.of(unreadable), 1);

            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            String name = "sink-basic-" + UUID.randomUUID();
            try (UsageSink sink = new UsageSink(kafka.sinkConfig(name).withMaxPollRecords(200), dataSource,
                    Clock.systemUTC(), registry)) {
                sink.start();
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(kafka.committedNextOffsets));
                assertThat(sink.ready()).isTrue();
            }

            assertThat(storedEvents()).isEqualTo(new HashSet<>(events));
            assertThat(storedSummaries()).isEqualTo(finalSummaries(emitted));
            Set<UUID> users = events.stream().map(UsageEvent::userId).collect(Collectors.toSet());
            assertThat(storedUsers(users))
                    .isEqualTo(users);
            List<DeadLetter> deadLetters = readDeadLetters(kafka, 1);
            assertThat(deadLetters).singleElement().satisfies(d -> {
                assertThat(d.topic()).isEqualTo(kafka.topics.usageEvents());
                assertThat(d.payload()).isEqualTo(unreadable.value());
                assertThat(d.reason()).startsWith("unreadable record");
            });
            assertThat(registry.get("meter.sink.rows").tag("table", "api_usage").counter().count()).isEqualTo(events.size());
            assertThat(registry.get("meter.sink.batch.write").timer().count()).isPositive();
        }
    }

    @Test
    void aRestartSeeksFromTheStoredOffsetsWhateverKafkaCommitted() throws Exception {
        try (SinkTopicsFixture kafka = SinkTopicsFixture.create("sink-restart", 3)) {
            List<UsageEvent> events = events(12, 30, 400);
            List<MonthlySummary> emitted = runningSummaries(events);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            for (int i = 0; i < events.size(); i++) {
                records.add(kafka.event(events.get(i)));
                records.add(kafka.summary(emitted.get(i)));
            }
            kafka.commit(records, 50);
            String name = "sink-restart-" + UUID.randomUUID();
            // Tiny batches, so the first run is stopped mid-stream.
            SinkConfig config = kafka.sinkConfig(name).withMaxPollRecords(5);

            SimpleMeterRegistry firstRegistry = new SimpleMeterRegistry();
            try (UsageSink first = new UsageSink(config, dataSource, Clock.systemUTC(), firstRegistry)) {
                first.start();
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(5))
                        .until(() -> consumed(firstRegistry) >= 100);
            }
            double firstRun = consumed(firstRegistry);
            assertThat(firstRun).isLessThan(records.size());
            Map<TopicPartition, Long> storedAtStop = storedOffsets(name);

            // The worst case for a sink trusting Kafka: its committed offsets point back to the start.
            Map<TopicPartition, OffsetAndMetadata> rewound = kafka.committedNextOffsets.keySet().stream()
                    .collect(Collectors.toMap(Function.identity(), tp -> new OffsetAndMetadata(0)));
            kafka.admin.alterConsumerGroupOffsets(name, rewound).all().get();

            SimpleMeterRegistry secondRegistry = new SimpleMeterRegistry();
            try (UsageSink second = new UsageSink(config.withMaxPollRecords(500), dataSource, Clock.systemUTC(), secondRegistry)) {
                second.start();
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(kafka.committedNextOffsets));
            }

            // Every record was consumed exactly once across both runs: nothing re-read, nothing skipped.
            assertThat(firstRun + consumed(secondRegistry)).isEqualTo(records.size());
            assertThat(storedAtStop.values().stream().mapToLong(Long::longValue).sum()).isPositive();
            assertThat(storedEvents()).isEqualTo(new HashSet<>(events));
            assertThat(storedSummaries()).isEqualTo(finalSummaries(emitted));
        }
    }

    private static double consumed(SimpleMeterRegistry registry) {
        return registry.find("meter.sink.records.consumed").counters().stream().mapToDouble(c -> c.count()).sum();
    }

    private static List<DeadLetter> readDeadLetters(SinkTopicsFixture kafka, int expected) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, TestStack.sharedKafkaBootstrap());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "dead-letter-reader-" + UUID.randomUUID());
        List<DeadLetter> letters = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(kafka.topics.deadLetter()));
            await().atMost(Duration.ofSeconds(15)).until(() -> {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    letters.add(EventSerdes.deadLetter().deserializer().deserialize(r.topic(), r.value()));
                }
                return letters.size() >= expected;
            });
        }
        return letters;
    }

    private static Map<TopicPartition, Long> storedOffsets(String sink) throws Exception {
        return db(d -> readOffsets(d, sink));
    }

    private static Set<UsageEvent> storedEvents() throws Exception {
        return db(SinkFixtures::readEvents);
    }

    private static Set<MonthlySummary> storedSummaries() throws Exception {
        return db(SinkFixtures::readSummaries);
    }

    private static Set<UUID> storedUsers(Set<UUID> among) throws Exception {
        return db(d -> d.select(Tables.USERS.ID).from(Tables.USERS).where(Tables.USERS.ID.in(among)).fetchSet(Tables.USERS.ID));
    }

    private static <T> T db(Function<DSLContext, T> query) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            return query.apply(DSL.using(c, SQLDialect.POSTGRES));
        }
    }
}
