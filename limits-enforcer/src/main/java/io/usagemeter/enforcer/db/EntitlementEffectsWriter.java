package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.SINK_OFFSETS;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.jooq.Routines;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.jooq.Configuration;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Persists what the enforcer's inputs mean for PostgreSQL: completed referrals, bonus credits,
 * plan assignments and usage resets, through the idempotent V4/V5 functions. The consumed offsets
 * are written to {@code sink_offsets} in the same transaction as the calls, and the writer seeks
 * from them on every assignment, so a crash neither loses nor repeats an effect (and the functions'
 * command ids catch a command that was published twice).
 */
public final class EntitlementEffectsWriter implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EntitlementEffectsWriter.class);
    private static final List<String> TOPICS = List.of(Topics.ADMIN_COMMANDS.name(), Topics.REFERRALS.name());
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration RETRY_BACKOFF = Duration.ofSeconds(1);

    private final String sink;
    private final DSLContext dsl;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicBoolean started = new AtomicBoolean(false);
    private final AtomicLong applied = new AtomicLong();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread thread;
    /** Set while the last write failed; cleared by the next that succeeds. Readiness shows it. */
    private volatile boolean failing;

    /**
     * @param sink the name of this writer in {@code sink_offsets} (also its consumer group)
     */
    public EntitlementEffectsWriter(String sink, String kafkaBootstrap, DSLContext dsl) {
        this.sink = sink;
        this.dsl = dsl;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, sink);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, sink + "-db-writer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 500);
        this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.thread = new Thread(this::run, "enforcer-db-writer");
    }

    public EntitlementEffectsWriter start() {
        started.set(true);
        thread.start();
        return this;
    }

    /** Whether the writer is running and its last write (if any) succeeded: part of the enforcer's readiness. */
    public boolean healthy() {
        return !started.get() || (thread.isAlive() && !failing);
    }

    /** Effects applied by this instance since it started (records skipped because already stored do not count). */
    public long applied() {
        return applied.get();
    }

    private void run() {
        try {
            consumer.subscribe(TOPICS, new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    // Offsets live in PostgreSQL, written with the effects: nothing to commit here.
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    seekToStoredOffsets(partitions);
                }
            });
            while (running.get()) {
                ConsumerRecords<byte[], byte[]> records = consumer.poll(POLL);
                if (records.isEmpty()) {
                    continue;
                }
                try {
                    apply(records);
                    failing = false;
                } catch (RuntimeException e) {
                    failing = true;
                    LOG.warn("could not write {} records to PostgreSQL, retrying from the stored offsets: {}",
                            records.count(), e.toString());
                    sleep(RETRY_BACKOFF);
                    seekToStoredOffsets(consumer.assignment());
                }
            }
        } catch (WakeupException e) {
            if (running.get()) {
                throw e;
            }
        } catch (RuntimeException e) {
            LOG.error("the PostgreSQL writer stopped", e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
            stopped.countDown();
        }
    }

    private void seekToStoredOffsets(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        Map<TopicPartition, Long> stored = new HashMap<>();
        dsl.select(SINK_OFFSETS.TOPIC, SINK_OFFSETS.PARTITION, SINK_OFFSETS.NEXT_OFFSET)
                .from(SINK_OFFSETS)
                .where(SINK_OFFSETS.SINK.eq(sink))
                .forEach(r -> stored.put(new TopicPartition(r.value1(), r.value2()), r.value3()));
        for (TopicPartition tp : partitions) {
            Long next = stored.get(tp);
            if (next == null) {
                consumer.seekToBeginning(List.of(tp));
            } else {
                consumer.seek(tp, next);
            }
        }
        LOG.info("db writer {} assigned {}; resuming from stored offsets {}", sink, partitions, stored);
    }

    /** One transaction: every record's effect and the next offset of every partition in the batch. */
    private void apply(ConsumerRecords<byte[], byte[]> records) {
        long[] count = {0};
        dsl.transaction(tx -> {
            count[0] = 0;
            for (TopicPartition tp : records.partitions()) {
                List<ConsumerRecord<byte[], byte[]>> batch = records.records(tp);
                for (ConsumerRecord<byte[], byte[]> record : batch) {
                    if (applyOne(tx, record)) {
                        count[0]++;
                    }
                }
                long next = batch.get(batch.size() - 1).offset() + 1;
                tx.dsl().insertInto(SINK_OFFSETS)
                        .set(SINK_OFFSETS.SINK, sink)
                        .set(SINK_OFFSETS.TOPIC, tp.topic())
                        .set(SINK_OFFSETS.PARTITION, tp.partition())
                        .set(SINK_OFFSETS.NEXT_OFFSET, next)
                        .onConflict(SINK_OFFSETS.SINK, SINK_OFFSETS.TOPIC, SINK_OFFSETS.PARTITION)
                        .doUpdate()
                        .set(SINK_OFFSETS.NEXT_OFFSET, next)
                        .set(SINK_OFFSETS.UPDATED_AT, org.jooq.impl.DSL.currentOffsetDateTime())
                        .execute();
            }
        });
        applied.addAndGet(count[0]);
    }

    private static boolean applyOne(Configuration tx, ConsumerRecord<byte[], byte[]> record) {
        if (record.value() == null) {
            return false;
        }
        try {
            if (record.topic().equals(Topics.REFERRALS.name())) {
                ReferralEvent referral = Topics.REFERRALS.valueSerde().deserializer().deserialize(record.topic(), record.value());
                if (referral.status() != ReferralStatus.COMPLETED) {
                    return false;
                }
                var result = Routines.completeReferral(tx, "referral:" + referral.referralId(),
                        referral.referrerId(), referral.referredId());
                logOutcome("referral " + referral.referralId(), result.getOutcome(), result.getReason());
                return true;
            }
            AdminCommand command = Topics.ADMIN_COMMANDS.valueSerde().deserializer().deserialize(record.topic(), record.value());
            String outcome;
            String reason;
            if (command instanceof AdminCommand.ResetUsage reset) {
                var r = Routines.adminResetUserUsage(tx, reset.commandId(), reset.userId(), reset.month().atDay(1),
                        reset.resetAt().atOffset(ZoneOffset.UTC));
                outcome = r.getOutcome();
                reason = r.getReason();
            } else if (command instanceof AdminCommand.AddBonusCredits credits) {
                var r = Routines.adminAddBonusCredits(tx, credits.commandId(), credits.userId(), credits.amount());
                outcome = r.getOutcome();
                reason = r.getReason();
            } else if (command instanceof AdminCommand.SetPlan plan) {
                var r = Routines.adminSetUserPlan(tx, plan.commandId(), plan.userId(), plan.plan());
                outcome = r.getOutcome();
                reason = r.getReason();
            } else {
                return false;
            }
            logOutcome("admin command " + command.commandId(), outcome, reason);
            return true;
        } catch (SerializationException e) {
            // Undecodable records are the streams' dead letters; here they are skipped, offset and all.
            LOG.warn("skipping undecodable record {}-{}@{}: {}", record.topic(), record.partition(), record.offset(),
                    e.getMessage());
            return false;
        }
    }

    private static void logOutcome(String what, String outcome, String reason) {
        if ("refused".equals(outcome)) {
            LOG.info("{} refused by the database: {}", what, reason);
        } else {
            LOG.debug("{}: {}", what, outcome);
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running.set(false);
        if (!started.get()) {
            consumer.close(Duration.ZERO);
            return;
        }
        consumer.wakeup();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
