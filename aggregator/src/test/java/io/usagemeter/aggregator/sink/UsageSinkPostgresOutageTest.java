package io.usagemeter.aggregator.sink;

import static io.usagemeter.aggregator.sink.SinkFixtures.events;
import static io.usagemeter.aggregator.sink.SinkFixtures.finalSummaries;
import static io.usagemeter.aggregator.sink.SinkFixtures.readOffsets;
import static io.usagemeter.aggregator.sink.SinkFixtures.runningSummaries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.embedded.SharedEmbeddedKafka;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** PostgreSQL stops mid-stream and comes back on the same data directory and port. */
class UsageSinkPostgresOutageTest {

    @TempDir
    static Path dataDir;
    private static int port;
    private static EmbeddedPostgresServer server;
    private static DataSource dataSource;

    @BeforeAll
    static void start() throws Exception {
        TestStack.requireEmbedded("it stops PostgreSQL and starts it again on the same port and data");
        SharedEmbeddedKafka.get();
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        server = EmbeddedPostgresServer.start(dataDir, port);
        server.createDatabase("meter");
        // Bound to the port, not to the server object: it reaches the restarted server too.
        dataSource = server.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
    }

    @BeforeEach
    void emptyTables() throws Exception {
        try (Connection c = dataSource.getConnection()) {
            DSL.using(c, SQLDialect.POSTGRES)
                    .truncate(Tables.API_USAGE, Tables.MONTHLY_USAGE_SUMMARY, Tables.SINK_OFFSETS).execute();
        }
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void notReadyWhileDownThenCatchesUpExactly() throws Exception {
        try (SinkTopicsFixture kafka = SinkTopicsFixture.create("sink-outage", 3)) {
            List<UsageEvent> events = events(13, 25, 400);
            List<MonthlySummary> emitted = runningSummaries(events);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            for (int i = 0; i < events.size(); i++) {
                records.add(kafka.event(events.get(i)));
                records.add(kafka.summary(emitted.get(i)));
            }
            List<ProducerRecord<byte[], byte[]>> before = records.subList(0, records.size() / 2);
            List<ProducerRecord<byte[], byte[]>> during = records.subList(records.size() / 2, records.size());
            String name = "sink-outage-" + UUID.randomUUID();
            SimpleMeterRegistry registry = new SimpleMeterRegistry();

            try (UsageSink sink = new UsageSink(kafka.sinkConfig(name).withMaxPollRecords(50), dataSource,
                    Clock.systemUTC(), registry)) {
                sink.start();
                kafka.commit(before, 40);
                Map<TopicPartition, Long> firstHalf = Map.copyOf(kafka.committedNextOffsets);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(firstHalf));
                assertThat(sink.ready()).isTrue();

                server.close();
                kafka.commit(during, 40);
                await().atMost(Duration.ofSeconds(30)).until(() -> !sink.ready());
                double retriesAtOutage = retries(registry);
                await().atMost(Duration.ofSeconds(30)).until(() -> retries(registry) >= retriesAtOutage + 2);
                assertThat(sink.ready()).isFalse();
                assertThat(sink.isRunning()).isTrue();

                server = EmbeddedPostgresServer.start(dataDir, port);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(kafka.committedNextOffsets));
                await().atMost(Duration.ofSeconds(10)).until(sink::ready);
            }

            try (Connection c = dataSource.getConnection()) {
                var db = DSL.using(c, SQLDialect.POSTGRES);
                assertThat(SinkFixtures.readEvents(db)).isEqualTo(new HashSet<>(events));
                Set<MonthlySummary> expected = finalSummaries(emitted);
                assertThat(SinkFixtures.readSummaries(db)).isEqualTo(expected);
            }
        }
    }

    @Test
    void startsWhileDownWaitsPausedAndWritesEverythingOnceItAnswers() throws Exception {
        try (SinkTopicsFixture kafka = SinkTopicsFixture.create("sink-start-down", 2)) {
            List<UsageEvent> events = events(14, 10, 150);
            List<MonthlySummary> emitted = runningSummaries(events);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            events.forEach(e -> records.add(kafka.event(e)));
            emitted.forEach(s -> records.add(kafka.summary(s)));
            kafka.commit(records, 100);
            assertThat(kafka.committedEvents()).as("what the broker serves read_committed").isEqualTo(new HashSet<>(events));
            String name = "sink-start-down-" + UUID.randomUUID();
            SimpleMeterRegistry registry = new SimpleMeterRegistry();

            server.close();
            try (UsageSink sink = new UsageSink(kafka.sinkConfig(name), dataSource, Clock.systemUTC(), registry)) {
                sink.start();
                // The partitions are assigned while the stored offsets cannot be read: they wait paused.
                await().atMost(Duration.ofSeconds(30)).until(() -> retries(registry) >= 3);
                assertThat(sink.ready()).isFalse();

                server = EmbeddedPostgresServer.start(dataDir, port);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(kafka.committedNextOffsets));
                assertThat(sink.ready()).isTrue();
            }

            try (Connection c = dataSource.getConnection()) {
                var db = DSL.using(c, SQLDialect.POSTGRES);
                assertThat(SinkFixtures.readEvents(db)).isEqualTo(new HashSet<>(events));
                assertThat(SinkFixtures.readSummaries(db)).isEqualTo(finalSummaries(emitted));
            }
            assertThat(registry.get("meter.sink.records.consumed").tag("topic", kafka.topics.usageEvents()).counter()
                    .count()).isEqualTo(events.size());
        }
    }

    /**
     * While PostgreSQL is down the consumer has positions before any stored offset can be read: it takes
     * them from the group's committed offsets in Kafka (written for lag monitoring only, and here at the end
     * of every partition, as after a run whose database was restored from an older backup). Once PostgreSQL
     * answers, the sink must read from the offsets stored in {@code sink_offsets}, not from those positions.
     */
    @Test
    void startedWhileDownReadsFromTheStoredOffsetsNotFromKafkasCommittedOffsets() throws Exception {
        try (SinkTopicsFixture kafka = SinkTopicsFixture.create("sink-stored-first", 2)) {
            List<UsageEvent> events = events(15, 10, 120);
            List<MonthlySummary> emitted = runningSummaries(events);
            List<ProducerRecord<byte[], byte[]>> alreadyWritten = new ArrayList<>();
            List<ProducerRecord<byte[], byte[]>> notYetWritten = new ArrayList<>();
            for (int i = 0; i < events.size(); i++) {
                List<ProducerRecord<byte[], byte[]>> part = i < 40 ? alreadyWritten : notYetWritten;
                part.add(kafka.event(events.get(i)));
                part.add(kafka.summary(emitted.get(i)));
            }
            kafka.commit(alreadyWritten, 40);
            Map<TopicPartition, Long> stored = Map.copyOf(kafka.committedNextOffsets);
            kafka.commit(notYetWritten, 40);
            assertThat(kafka.committedEvents()).as("what the broker serves read_committed").isEqualTo(new HashSet<>(events));
            String name = "sink-stored-first-" + UUID.randomUUID();
            try (Connection c = dataSource.getConnection()) {
                SinkWriter.storeOffsets(DSL.using(c, SQLDialect.POSTGRES), name, stored,
                        OffsetDateTime.now(ZoneOffset.UTC));
            }
            Map<TopicPartition, OffsetAndMetadata> atTheEnd = new HashMap<>();
            kafka.committedNextOffsets.forEach((tp, next) ->
                    atTheEnd.put(tp, new OffsetAndMetadata(next)));
            kafka.admin.alterConsumerGroupOffsets(name, atTheEnd).all().get();
            SimpleMeterRegistry registry = new SimpleMeterRegistry();

            server.close();
            try (UsageSink sink = new UsageSink(kafka.sinkConfig(name), dataSource, Clock.systemUTC(), registry)) {
                sink.start();
                await().atMost(Duration.ofSeconds(30)).until(() -> retries(registry) >= 3);
                assertThat(sink.ready()).isFalse();

                server = EmbeddedPostgresServer.start(dataDir, port);
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                        assertThat(storedOffsets(name)).isEqualTo(kafka.committedNextOffsets));
            }

            try (Connection c = dataSource.getConnection()) {
                var db = DSL.using(c, SQLDialect.POSTGRES);
                assertThat(SinkFixtures.readEvents(db)).isEqualTo(new HashSet<>(events.subList(40, events.size())));
                assertThat(SinkFixtures.readSummaries(db)).isEqualTo(finalSummaries(emitted.subList(40, emitted.size())));
            }
            assertThat(registry.get("meter.sink.records.consumed").tag("topic", kafka.topics.usageEvents()).counter()
                    .count()).isEqualTo(events.size() - 40);
        }
    }

    private static double retries(SimpleMeterRegistry registry) {
        return registry.get("meter.sink.retries").counter().count();
    }

    private static Map<TopicPartition, Long> storedOffsets(String sink) throws Exception {
        try (Connection c = dataSource.getConnection()) {
            return readOffsets(DSL.using(c, SQLDialect.POSTGRES), sink);
        }
    }
}
