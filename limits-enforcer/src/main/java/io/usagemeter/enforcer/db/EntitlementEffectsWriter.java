package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.SINK_OFFSETS;

import io.usagemeter.schema.SqlFailures;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.jooq.Routines;
import io.usagemeter.schema.serde.EventSerdes;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.jooq.Configuration;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Persists what the enforcer's inputs mean for PostgreSQL: completed referrals, bonus credits,
 * plan assignments and usage resets, through the idempotent V4/V5 functions. The consumed offsets
 * are written to {@code sink_offsets} in the same transaction as the calls, and the writer seeks
 * from them on every assignment and after every failed write, so a crash neither loses nor repeats
 * an effect (and the functions' command ids catch a command that was published twice).
 *
 * <p><b>Failures.</b> A record PostgreSQL refuses (a data or constraint error, see
 * {@link SqlFailures#isRefusedRow}) is isolated: the batch is applied again record by record, each
 * under a savepoint, the refused one goes to the dead-letter topic with the reason and the rest
 * commits with the batch's offsets. Any other failure (a lost connection, a timeout, PostgreSQL
 * stopped) is the database's, not the record's: nothing of the batch is committed, the writer
 * reports itself unhealthy ({@link #healthy()}, {@link #lastError()}), waits with its partitions
 * paused and resumes from the stored offsets once PostgreSQL answers. The thread never ends before
 * {@link #close()}.
 *
 * <p>A usage reset outside the {@link ResetHorizon} is not recorded: the aggregator refuses it too.
 */
public final class EntitlementEffectsWriter implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EntitlementEffectsWriter.class);
    private static final List<String> TOPICS = List.of(Topics.ADMIN_COMMANDS.name(), Topics.REFERRALS.name());
    private static final String STAGE = "enforcer.db-writer";
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration RETRY_BACKOFF_MIN = Duration.ofMillis(200);
    private static final Duration RETRY_BACKOFF_MAX = Duration.ofSeconds(5);
    /** How long the writer may sit idle before it checks that the database still answers. */
    private static final long IDLE_CHECK_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final String sink;
    private final DSLContext dsl;
    private final ResetHorizon horizon;
    private final String deadLetterTopic;
    private final Clock clock;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Properties producerProperties;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicBoolean started = new AtomicBoolean(false);
    private final AtomicLong applied = new AtomicLong();
    private final AtomicLong deadLettered = new AtomicLong();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread thread;
    private volatile boolean healthy = true;
    private volatile String lastError;
    private volatile Instant unhealthySince;

    // Touched by the writer's thread only.
    private KafkaProducer<byte[], byte[]> deadLetterProducer;
    private boolean resyncNeeded;
    private Duration backoff = RETRY_BACKOFF_MIN;
    private long lastDatabaseContact = System.nanoTime();

    /**
     * @param sink the name of this writer in {@code sink_offsets} (also its consumer group)
     */
    public EntitlementEffectsWriter(String sink, String kafkaBootstrap, DSLContext dsl) {
        this(sink, kafkaBootstrap, dsl, ResetHorizon.DEFAULT, Topics.DEAD_LETTER.name(), Clock.systemUTC());
    }

    /**
     * @param horizon the months a reset may name (the aggregator's): a reset outside it is not recorded
     * @param deadLetterTopic where refused records go
     */
    public EntitlementEffectsWriter(String sink, String kafkaBootstrap, DSLContext dsl, ResetHorizon horizon,
                                    String deadLetterTopic, Clock clock) {
        this.sink = sink;
        this.dsl = dsl;
        this.horizon = horizon;
        this.deadLetterTopic = deadLetterTopic;
        this.clock = clock;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, sink);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, sink + "-db-writer");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 500);
        this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.producerProperties = new Properties();
        producerProperties.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        producerProperties.put(ProducerConfig.CLIENT_ID_CONFIG, sink + "-dead-letters");
        producerProperties.put(ProducerConfig.ACKS_CONFIG, "all");
        producerProperties.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        producerProperties.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        producerProperties.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        this.thread = new Thread(this::run, "enforcer-db-writer");
    }

    public EntitlementEffectsWriter start() {
        started.set(true);
        thread.start();
        return this;
    }

    /** Effects applied by this instance since it started (records skipped because already stored do not count). */
    public long applied() {
        return applied.get();
    }

    /** Records PostgreSQL refused and this writer sent to the dead-letter topic since it started. */
    public long deadLettered() {
        return deadLettered.get();
    }

    /**
     * False while PostgreSQL cannot be written (the writer waits and retries) or once the writer stopped;
     * for readiness.
     */
    public boolean healthy() {
        return healthy && running.get() && (!started.get() || thread.isAlive());
    }

    /** Why the writer is unhealthy, and since when; empty while healthy. */
    public Optional<String> lastError() {
        String error = lastError;
        Instant since = unhealthySince;
        return healthy || error == null ? Optional.empty() : Optional.of(error + (since == null ? "" : " (since " + since + ")"));
    }

    public boolean isRunning() {
        return started.get() && thread.isAlive();
    }

    private void run() {
        try {
            consumer.subscribe(TOPICS, new SeekToStoredOffsets());
            while (running.get()) {
                try {
                    step();
                } catch (WakeupException e) {
                    if (running.get()) {
                        LOG.debug("db writer {} woken up while running", sink);
                    }
                } catch (RuntimeException e) {
                    unavailable("unexpected failure", e);
                    waitWhilePaused();
                }
            }
        } finally {
            healthy = false;
            closeQuietly();
            stopped.countDown();
            LOG.info("db writer {} stopped", sink);
        }
    }

    private void step() {
        if (resyncNeeded) {
            if (!resync()) {
                waitWhilePaused();
                return;
            }
        }
        ConsumerRecords<byte[], byte[]> records = consumer.poll(POLL);
        if (resyncNeeded) {
            return; // an assignment could not read the stored offsets during this poll
        }
        if (records.isEmpty()) {
            checkDatabaseWhenIdle();
            return;
        }
        try {
            applied.addAndGet(apply(records));
            available();
        } catch (RuntimeException e) {
            if (SqlFailures.isRefusedRow(e)) {
                LOG.warn("db writer {}: PostgreSQL refused a record of a batch of {}; isolating it: {}", sink,
                        records.count(), SqlFailures.describe(e));
                try {
                    applied.addAndGet(applyIsolating(records));
                    available();
                } catch (RuntimeException again) {
                    unavailable("cannot write a batch of " + records.count() + " records", again);
                }
            } else {
                unavailable("cannot write a batch of " + records.count() + " records", e);
            }
        }
    }

    /** Seeks every assigned partition to its stored offset and resumes; false while the database cannot be read. */
    private boolean resync() {
        Collection<TopicPartition> assigned = consumer.assignment();
        try {
            if (assigned.isEmpty()) {
                dsl.selectOne().fetch();
            }
            seekToStoredOffsets(assigned);
        } catch (RuntimeException e) {
            unavailable("database still unavailable", e);
            return false;
        }
        consumer.resume(assigned);
        resyncNeeded = false;
        LOG.info("db writer {}: database available again, resuming {} partitions from stored offsets", sink, assigned.size());
        available();
        return true;
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
    private long apply(ConsumerRecords<byte[], byte[]> records) {
        return dsl.transactionResult(tx -> {
            long count = 0;
            for (ConsumerRecord<byte[], byte[]> record : records) {
                if (applyOne(tx, record)) {
                    count++;
                }
            }
            storeOffsets(tx, records);
            return count;
        });
    }

    /**
     * The batch again, one savepoint per record: a record PostgreSQL refuses is rolled back alone and
     * sent to the dead-letter topic (durably, before the commit that moves the offsets past it); any
     * other failure aborts the whole transaction.
     */
    private long applyIsolating(ConsumerRecords<byte[], byte[]> records) {
        List<DeadLetter> refused = new ArrayList<>();
        long count = dsl.transactionResult(tx -> {
            refused.clear();
            long n = 0;
            for (ConsumerRecord<byte[], byte[]> record : records) {
                try {
                    if (tx.dsl().transactionResult(savepoint -> applyOne(savepoint, record))) {
                        n++;
                    }
                } catch (RuntimeException e) {
                    if (!SqlFailures.isRefusedRow(e)) {
                        throw e;
                    }
                    String reason = "PostgreSQL refused the record: " + SqlFailures.describe(e);
                    LOG.warn("db writer {}: {}-{}@{} to {}: {}", sink, record.topic(), record.partition(),
                            record.offset(), deadLetterTopic, reason);
                    refused.add(DeadLetter.of(STAGE, record.topic(), record.partition(), record.offset(),
                            record.key(), record.value(), reason, e, clock.instant()));
                }
            }
            sendDeadLetters(refused);
            storeOffsets(tx, records);
            return n;
        });
        deadLettered.addAndGet(refused.size());
        return count;
    }

    private void storeOffsets(Configuration tx, ConsumerRecords<byte[], byte[]> records) {
        for (TopicPartition tp : records.partitions()) {
            List<ConsumerRecord<byte[], byte[]>> batch = records.records(tp);
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
    }

    private boolean applyOne(Configuration tx, ConsumerRecord<byte[], byte[]> record) {
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
                Optional<String> refusal = horizon.refusal(reset);
                if (refusal.isPresent()) {
                    LOG.warn("db writer {}: usage reset {} not recorded, as the aggregator does not apply it: {}",
                            sink, reset.commandId(), refusal.get());
                    return false;
                }
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
            // Undecodable (or out-of-bounds) records are the streams' dead letters; here they are skipped, offset and all.
            LOG.warn("skipping undecodable record {}-{}@{}: {}", record.topic(), record.partition(), record.offset(),
                    e.getMessage());
            return false;
        }
    }

    private void sendDeadLetters(List<DeadLetter> letters) {
        if (letters.isEmpty()) {
            return;
        }
        if (deadLetterProducer == null) {
            deadLetterProducer = new KafkaProducer<>(producerProperties);
        }
        for (DeadLetter letter : letters) {
            deadLetterProducer.send(new ProducerRecord<>(deadLetterTopic, letter.key(),
                    EventSerdes.deadLetter().serializer().serialize(deadLetterTopic, letter)));
        }
        // Durable before the transaction that moves the offsets past them (at least once: a retried batch may resend).
        deadLetterProducer.flush();
    }

    private void checkDatabaseWhenIdle() {
        if (healthy && System.nanoTime() - lastDatabaseContact < IDLE_CHECK_NANOS) {
            return;
        }
        try {
            dsl.selectOne().fetch();
            available();
        } catch (RuntimeException e) {
            unavailable("database unreachable while idle", e);
        }
    }

    private void available() {
        if (!healthy) {
            LOG.info("db writer {}: PostgreSQL answers again", sink);
        }
        healthy = true;
        lastError = null;
        unhealthySince = null;
        backoff = RETRY_BACKOFF_MIN;
        lastDatabaseContact = System.nanoTime();
    }

    /** Nothing of the failed batch was committed: pause, and seek again from the stored offsets once the database answers. */
    private void unavailable(String what, RuntimeException cause) {
        String error = what + ": " + SqlFailures.describe(cause);
        if (healthy) {
            LOG.warn("db writer {}: {}; pausing and retrying with backoff", sink, error);
            unhealthySince = clock.instant();
        } else {
            LOG.debug("db writer {}: {}", sink, error);
        }
        healthy = false;
        lastError = error;
        resyncNeeded = true;
        try {
            consumer.pause(consumer.assignment());
        } catch (RuntimeException e) {
            LOG.debug("db writer {}: could not pause: {}", sink, e.getMessage());
        }
    }

    /** Polls with every partition paused, which keeps the group membership while waiting out the backoff. */
    private void waitWhilePaused() {
        try {
            consumer.pause(consumer.assignment());
            ConsumerRecords<byte[], byte[]> ignored = consumer.poll(backoff);
            if (!ignored.isEmpty()) {
                LOG.debug("dropped {} records polled while paused; they are read again after the resync", ignored.count());
            }
        } catch (WakeupException e) {
            if (running.get()) {
                LOG.debug("db writer {} woken up while waiting", sink);
            }
        } catch (RuntimeException e) {
            LOG.debug("db writer {}: waiting: {}", sink, e.getMessage());
            sleep(backoff);
        }
        backoff = backoff.multipliedBy(2).compareTo(RETRY_BACKOFF_MAX) > 0 ? RETRY_BACKOFF_MAX : backoff.multipliedBy(2);
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

    private void closeQuietly() {
        try {
            consumer.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            LOG.debug("closing the consumer: {}", e.getMessage());
        }
        if (deadLetterProducer != null) {
            try {
                deadLetterProducer.close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                LOG.debug("closing the dead-letter producer: {}", e.getMessage());
            }
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

    /** On assignment, the stored offsets decide where to read; if the database is down the partitions wait paused. */
    private final class SeekToStoredOffsets implements ConsumerRebalanceListener {

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            if (partitions.isEmpty()) {
                return;
            }
            if (resyncNeeded) {
                consumer.pause(partitions);
                return;
            }
            try {
                seekToStoredOffsets(partitions);
            } catch (RuntimeException e) {
                consumer.pause(partitions);
                unavailable("cannot read stored offsets of " + partitions, e);
            }
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            // Offsets live in PostgreSQL, written with the effects: nothing to commit here.
        }
    }
}
