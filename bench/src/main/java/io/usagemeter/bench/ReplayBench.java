package io.usagemeter.bench;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.replay.ApiUsageRepair;
import io.usagemeter.aggregator.replay.ReplayRange;
import io.usagemeter.aggregator.replay.ReplayReport;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/**
 * Replay rate against the live aggregator's rate, same events, same run: a month of events over 10,000
 * users is produced; the live aggregator (exactly-once, as deployed) and its sink process it from the start,
 * the aggregator timed until its committed offsets reach the end, then the sink awaited until PostgreSQL
 * holds everything. {@code -Dedits=1000} api_usage rows are then deleted and as many altered by hand, and a
 * real (not dry-run) replay of the month rebuilds it, timed from plan to report: start-up, reading, staging the
 * events for api_usage (COPY), comparison with the summaries topic and PostgreSQL, the repair transaction
 * and clean-up. {@code -Devents=1000000}.
 */
public final class ReplayBench {

    private ReplayBench() {
    }

    public static void main(String[] args) throws Exception {
        int events = Integer.getInteger("events", 1_000_000);
        int users = Integer.getInteger("users", 10_000);
        Path work = Files.createTempDirectory("replay-bench");
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start();
             EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start()) {
            String url = postgres.createDatabase("meter");
            FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
            try (Admin admin = admin(kafka)) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            }
            produce(kafka, events, users);
            AggregatorConfig config = AggregatorConfig.defaults(kafka.bootstrapServers(), work.resolve("aggregator"));
            SinkConfig sink = new SinkConfig(kafka.bootstrapServers(), "replay-bench-sink", SinkTopics.standard(),
                    SinkConfig.DEFAULT_MAX_POLL_RECORDS, SinkConfig.DEFAULT_RETRY_BACKOFF_MIN,
                    SinkConfig.DEFAULT_RETRY_BACKOFF_MAX, url, EmbeddedPostgresServer.SUPERUSER, "");
            DSLContext db = DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES);

            long liveStart = System.nanoTime();
            try (AggregatorService live = new AggregatorService(config, Clock.systemUTC(), sink).start()) {
                awaitCommitted(kafka, config.applicationId(), events);
                double liveSeconds = (System.nanoTime() - liveStart) / 1e9;
                System.out.printf("live aggregator (exactly-once, sink running): %,d events in %.1f s = %,.0f events/s%n",
                        events, liveSeconds, events / liveSeconds);
                awaitSinkWritten(kafka, db);
                double sinkSeconds = (System.nanoTime() - liveStart) / 1e9;
                long rows = db.fetchCount(Tables.API_USAGE);
                System.out.printf("sink: PostgreSQL holds everything after %.1f s: %,d api_usage rows, %,d summary rows%n",
                        sinkSeconds, rows, db.fetchCount(Tables.MONTHLY_USAGE_SUMMARY));
                int edits = editByHand(db, Integer.getInteger("edits", 1000));

                Replayer replayer = new Replayer(config, db, Clock.systemUTC(), work.resolve("replays"), (short) 1);
                long replayStart = System.nanoTime();
                ReplayReport report = replayer.run(replayer.plan(ReplayRange.month(month()), false), p -> { }, () -> false);
                double replaySeconds = (System.nanoTime() - replayStart) / 1e9;
                ApiUsageRepair apiUsage = report.apiUsage();
                System.out.printf("replay of %s: %,d records in %.1f s = %,.0f records/s, %,d summaries rebuilt,"
                                + " %d rows repaired, %d diverging from the stream; api_usage (%,d deleted and %,d"
                                + " altered by hand): %,d inserted, %,d rewritten, %,d removed, %,d kept%n",
                        report.range(), report.recordsRead(), replaySeconds, report.recordsRead() / replaySeconds,
                        report.summariesRebuilt(), report.rowsRepaired(), report.diverging(), edits, edits,
                        apiUsage.rowsInserted(), apiUsage.rowsRewritten(), apiUsage.rowsRemoved(),
                        apiUsage.rowsKeptNotInLog());
                System.out.printf("replay rate %,.0f records/s = %.2f x the live aggregator's %,.0f events/s%n",
                        report.recordsRead() / replaySeconds, liveSeconds / replaySeconds, events / liveSeconds);
                if (db.fetchCount(Tables.API_USAGE) != rows || apiUsage.rowsInserted() != edits
                        || apiUsage.rowsRewritten() != edits) {
                    throw new IllegalStateException("the replay did not restore api_usage: " + apiUsage);
                }
            }
        }
    }

    /** Deletes {@code n} api_usage rows and alters the units of {@code n} others, as a careless hand would. */
    private static int editByHand(DSLContext db, int n) {
        var a = Tables.API_USAGE;
        var victims = db.select(a.USER_ID, a.EVENT_ID, a.OCCURRED_AT).from(a).orderBy(a.EVENT_ID).limit(2 * n).fetch();
        if (victims.size() < 2 * n) {
            throw new IllegalArgumentException("-Dedits=" + n + " needs " + 2 * n + " api_usage rows");
        }
        for (int i = 0; i < 2 * n; i++) {
            var row = a.USER_ID.eq(victims.get(i).value1()).and(a.EVENT_ID.eq(victims.get(i).value2()))
                    .and(a.OCCURRED_AT.eq(victims.get(i).value3()));
            if (i < n) {
                db.deleteFrom(a).where(row).execute();
            } else {
                db.update(a).set(a.UNITS, a.UNITS.plus(1)).where(row).execute();
            }
        }
        return n;
    }

    /** Until the sink's offsets reach the end of both topics it reads. */
    private static void awaitSinkWritten(EmbeddedKafkaBroker kafka, DSLContext db) throws Exception {
        var offsets = Tables.SINK_OFFSETS;
        try (Admin admin = admin(kafka)) {
            Map<TopicPartition, OffsetSpec> request = new java.util.HashMap<>();
            for (var topic : java.util.List.of(Topics.USAGE_EVENTS, Topics.USAGE_SUMMARIES)) {
                for (int p = 0; p < topic.partitions(); p++) {
                    request.put(new TopicPartition(topic.name(), p), OffsetSpec.latest());
                }
            }
            while (true) {
                var ends = admin.listOffsets(request).all().get(30, TimeUnit.SECONDS);
                Map<TopicPartition, Long> written = new java.util.HashMap<>();
                db.select(offsets.TOPIC, offsets.PARTITION, offsets.NEXT_OFFSET).from(offsets).forEach(r ->
                        written.put(new TopicPartition(r.value1(), r.value2()), r.value3()));
                // The summaries topic ends with an exactly-once commit marker, which the sink never stores.
                if (ends.entrySet().stream().allMatch(e -> e.getValue().offset() == 0
                        || written.getOrDefault(e.getKey(), 0L) >= e.getValue().offset()
                        - (e.getKey().topic().equals(Topics.USAGE_SUMMARIES.name()) ? 1 : 0))) {
                    return;
                }
                Thread.sleep(200);
            }
        }
    }

    private static YearMonth month() {
        return YearMonth.now(ZoneOffset.UTC);
    }

    private static void produce(EmbeddedKafkaBroker kafka, int events, int users) {
        Random random = new Random(1);
        UUID[] ids = new UUID[users];
        for (int i = 0; i < users; i++) {
            ids[i] = new UUID(random.nextLong(), i);
        }
        Instant start = month().atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        long span = Math.max(1, Instant.now().minusSeconds(60).toEpochMilli() - start.toEpochMilli());
        Map<String, Object> p = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024, ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        try (KafkaProducer<String, UsageEvent> producer = new KafkaProducer<>(p, new StringSerializer(),
                Topics.USAGE_EVENTS.valueSerde().serializer())) {
            UsageEvent previous = null;
            for (int i = 0; i < events; i++) {
                // In time order, as a month arrives live; one in 20 is a resend of the previous event (same user,
                // id and content: the stream and the sink count it once).
                Instant at = start.plusMillis(span * i / events);
                UsageEvent e = previous != null && random.nextInt(20) == 0 ? previous
                        : new UsageEvent("e-" + i, ids[random.nextInt(users)], at, Provider.values()[random.nextInt(5)],
                                "/v1/chat", "POST", random.nextInt(10) == 0 ? 500 : 200, random.nextInt(900), 1200, 5400,
                                random.nextInt(500), 1);
                previous = e;
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, e.occurredAt().toEpochMilli(),
                        e.userId().toString(), e));
            }
        }
    }

    private static void awaitCommitted(EmbeddedKafkaBroker kafka, String group, long events) throws Exception {
        try (Admin admin = admin(kafka)) {
            while (true) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                        .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
                long done = committed.entrySet().stream().filter(e -> e.getKey().topic().equals(Topics.USAGE_EVENTS.name()))
                        .mapToLong(e -> e.getValue().offset()).sum();
                if (done >= events) {
                    return;
                }
                Thread.sleep(200);
            }
        }
    }

    private static Admin admin(EmbeddedKafkaBroker kafka) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
    }
}
