package io.usagemeter.aggregator.sink;

import static io.usagemeter.aggregator.sink.SinkFixtures.event;
import static io.usagemeter.aggregator.sink.SinkFixtures.readOffsets;
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
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** No writer stalls on one row (issue 13, case 2): a row nobody can store is parked and the rest is written once. */
class UsageSinkPoisonRowTest {

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
        try (Connection c = dataSource.getConnection()) {
            DSL.using(c, SQLDialect.POSTGRES).truncate(Tables.API_USAGE, Tables.MONTHLY_USAGE_SUMMARY, Tables.SINK_OFFSETS)
                    .execute();
        }
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    /**
     * One row PostgreSQL refuses (a CHECK violation: the Java side does not vet summaries, the table does) in
     * the middle of a batch of 1,000: 999 rows written, 1 dead-lettered with PostgreSQL's reason, offsets stored.
     */
    @Test
    void oneRefusedRowInTheMiddleOfABatchOf1000() throws Exception {
        try (SinkTopicsFixture kafka = SinkTopicsFixture.create("sink-poison", 1)) {
            UUID user = UUID.randomUUID();
            Instant start = Instant.parse("2026-01-05T00:00:00Z");
            List<UsageEvent> events = new ArrayList<>();
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            for (int i = 0; i < 999; i++) {
                UsageEvent e = event(user, "ok-" + i, start.plusSeconds(i), Provider.OPENAI, 200, 1);
                events.add(e);
                records.add(kafka.event(e));
                if (i == 499) {
                    records.add(kafka.summary(new MonthlySummary(UUID.randomUUID(), YearMonth.of(2026, 1), 1, -5, 1, 0,
                            0, 0, 0, 0, 0, start, start, Map.of(Provider.OPENAI, 1L))));
                }
            }
            assertThat(records).hasSize(1000);
            kafka.commit(records, 1000);

            String name = "sink-poison-" + UUID.randomUUID();
            SimpleMeterRegistry registry = new SimpleMeterRegistry();
            try (UsageSink sink = new UsageSink(kafka.sinkConfig(name).withMaxPollRecords(1000), dataSource,
                    Clock.systemUTC(), registry)) {
                sink.start();
                await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(kafka.committedNextOffsets));
                assertThat(sink.ready()).isTrue();
                assertThat(sink.isRunning()).isTrue();
            }

            assertThat(count("SELECT count(*) FROM api_usage WHERE user_id = ?", user)).isEqualTo(999);
            assertThat(count("SELECT count(*) FROM monthly_usage_summary")).isZero();
            List<DeadLetter> letters = readDeadLetters(kafka, 1);
            assertThat(letters).singleElement().satisfies(letter -> {
                assertThat(letter.stage()).isEqualTo("aggregator.sink");
                assertThat(letter.topic()).isEqualTo(kafka.topics.usageSummaries());
                assertThat(letter.offset()).isEqualTo(0L); // the one record of the summaries topic
                assertThat(letter.reason()).contains("PostgreSQL refused the row").contains("23514")
                        .contains("monthly_usage_summary");
            });
            assertThat(registry.get("meter.sink.dead.letters").counter().count()).isEqualTo(1);
            assertThat(registry.get("meter.sink.rows").tag("table", "api_usage").counter().count()).isEqualTo(999);
        }
    }

    /**
     * Issue 13, case 2: events a client could send (33-character method, NUL in endpoint or event id, units past
     * the bound) are parked with the field named, and the events around them, and after them, are written.
     */
    @Test
    void eventsOutOfBoundsAreParkedAndLaterEventsStillArrive() throws Exception {
        try (SinkTopicsFixture kafka = SinkTopicsFixture.create("sink-bounds", 2)) {
            UUID user = UUID.randomUUID();
            Instant at = Instant.parse("2026-01-05T00:00:00Z");
            UsageEvent longMethod = new UsageEvent("m33", user, at, Provider.OTHER, "/x", "M".repeat(33), 200, 1, 1, 1, 0, 1);
            UsageEvent nulEndpoint = new UsageEvent("nul-endpoint", user, at, Provider.OTHER, "/a\u0000b", "GET", 200, 1, 1, 1, 0, 1);
            UsageEvent nulId = new UsageEvent("nul\u0000id", user, at, Provider.OTHER, "/x", "GET", 200, 1, 1, 1, 0, 1);
            UsageEvent hugeUnits = new UsageEvent("huge", user, at, Provider.OTHER, "/x", "GET", 200, 1, 1, 1, 0, Long.MAX_VALUE);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            records.add(kafka.event(event(user, "before", at, Provider.OPENAI, 200, 1)));
            for (UsageEvent poison : List.of(longMethod, nulEndpoint, nulId, hugeUnits)) {
                records.add(kafka.event(poison));
            }
            kafka.commit(records, 10);
            String name = "sink-bounds-" + UUID.randomUUID();
            try (UsageSink sink = new UsageSink(kafka.sinkConfig(name), dataSource, Clock.systemUTC(),
                    new SimpleMeterRegistry())) {
                sink.start();
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(kafka.committedNextOffsets));
                kafka.commit(List.of(kafka.event(event(user, "after", at.plusSeconds(5), Provider.OPENAI, 200, 1))), 1);
                await().atMost(Duration.ofSeconds(30)).until(() ->
                        count("SELECT count(*) FROM api_usage WHERE user_id = ?", user) == 2);
                assertThat(sink.ready()).isTrue();
            }
            List<DeadLetter> letters = readDeadLetters(kafka, 4);
            assertThat(letters).extracting(DeadLetter::reason).anySatisfy(r -> assertThat(r).contains("method"))
                    .anySatisfy(r -> assertThat(r).contains("endpoint").contains("control"))
                    .anySatisfy(r -> assertThat(r).contains("event_id").contains("control"))
                    .anySatisfy(r -> assertThat(r).contains("units").contains("1000000"));
        }
    }

    private static long count(String sql, Object... args) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            return DSL.using(c, SQLDialect.POSTGRES).fetchValue(sql, args) instanceof Number n ? n.longValue() : -1;
        }
    }

    private static Map<org.apache.kafka.common.TopicPartition, Long> storedOffsets(String sink) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            return readOffsets(DSL.using(c, SQLDialect.POSTGRES), sink);
        }
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
}
