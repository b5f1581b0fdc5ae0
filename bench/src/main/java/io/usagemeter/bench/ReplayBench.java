package io.usagemeter.bench;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.replay.ReplayRange;
import io.usagemeter.aggregator.replay.ReplayReport;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
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
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/**
 * Replay rate against the live aggregator's rate, same events, same run: a month of events over 10,000
 * users is produced; the live aggregator (exactly-once, as deployed) processes it from the start, timed
 * until its committed offsets reach the end; then a dry-run replay of the month rebuilds it, timed from
 * plan to report (start-up, reading, comparison with the summaries topic and PostgreSQL, clean-up).
 * {@code -Devents=1000000}.
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
            postgres.createDatabase("meter");
            FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
            try (Admin admin = admin(kafka)) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            }
            produce(kafka, events, users);
            AggregatorConfig config = AggregatorConfig.defaults(kafka.bootstrapServers(), work.resolve("aggregator"));

            long liveStart = System.nanoTime();
            try (AggregatorService live = new AggregatorService(config, Clock.systemUTC()).start()) {
                awaitCommitted(kafka, config.applicationId(), events);
                double liveSeconds = (System.nanoTime() - liveStart) / 1e9;
                System.out.printf("live aggregator (exactly-once): %,d events in %.1f s = %,.0f events/s%n",
                        events, liveSeconds, events / liveSeconds);

                Replayer replayer = new Replayer(config, DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES),
                        Clock.systemUTC(), work.resolve("replays"), (short) 1);
                long replayStart = System.nanoTime();
                ReplayReport report = replayer.run(replayer.plan(ReplayRange.month(month()), true), p -> { }, () -> false);
                double replaySeconds = (System.nanoTime() - replayStart) / 1e9;
                System.out.printf("replay (dry run) of %s: %,d records in %.1f s = %,.0f records/s, %,d summaries rebuilt,"
                                + " %d diverging from the stream; ratio to live %.2f%n",
                        report.range(), report.recordsRead(), replaySeconds, report.recordsRead() / replaySeconds,
                        report.summariesRebuilt(), report.diverging(), liveSeconds / replaySeconds);
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
            for (int i = 0; i < events; i++) {
                // In time order, as a month arrives live; one in 20 is a resend of the previous event.
                Instant at = start.plusMillis(span * i / events);
                UUID user = ids[random.nextInt(users)];
                UsageEvent e = new UsageEvent("e-" + (random.nextInt(20) == 0 && i > 0 ? i - 1 : i), user, at,
                        Provider.values()[random.nextInt(5)], "/v1/chat", "POST", random.nextInt(10) == 0 ? 500 : 200,
                        random.nextInt(900), 1200, 5400, random.nextInt(500), 1);
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, at.toEpochMilli(), user.toString(), e));
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
