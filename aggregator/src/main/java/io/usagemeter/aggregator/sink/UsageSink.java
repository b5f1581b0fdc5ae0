package io.usagemeter.aggregator.sink;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.usagemeter.schema.SqlFailures;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.serde.EventSerdes;
import java.time.Clock;
import java.time.Duration;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes monthly summaries and raw usage events from Kafka into PostgreSQL, exactly once.
 *
 * <p>Each poll becomes one transaction holding the rows and the next offsets ({@code sink_offsets}).
 * On every assignment, and after every failed write, the sink seeks to the offsets stored there, so a
 * crash at any point neither loses nor repeats a row; Kafka's committed offsets are written only for
 * lag monitoring. While PostgreSQL cannot be written, the sink pauses its partitions (staying in
 * the group), retries with exponential backoff and reports {@link #ready()} false.
 *
 * <p>Records that cannot be read, or events outside the contract's ranges, go to the dead-letter
 * topic before the transaction that moves past them (at least once: a retried batch may send them
 * again). So does a row PostgreSQL refuses (a data or constraint error: {@link SqlFailures#isRefusedRow}):
 * the batch is written again with its records split in halves under savepoints until the refused
 * record stands alone, and the rest commits with the batch's offsets. Only a failure that is not
 * the row's (a lost connection, a timeout, a server shutting down) pauses the sink and retries.
 */
public final class UsageSink implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(UsageSink.class);
    private static final Duration POLL_TIMEOUT = Duration.ofMillis(500);
    /** How long the sink may sit idle before it checks that the database still answers. */
    private static final long IDLE_CHECK_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    private final SinkConfig config;
    private final Clock clock;
    private final SinkDatabase database;
    private final SinkMetrics metrics;
    private final Map<String, io.micrometer.core.instrument.Counter> consumed = new HashMap<>();
    /** Months whose api_usage partition exists; only grows, and only after a commit. */
    private final Set<YearMonth> knownMonths = new HashSet<>();

    private volatile boolean running;
    private volatile boolean ready;
    private KafkaConsumer<byte[], byte[]> consumer;
    private KafkaProducer<byte[], byte[]> deadLetterProducer;
    private Thread thread;

    // Touched by the sink's thread only.
    private boolean resyncNeeded;
    private Duration backoff;
    private long lastDatabaseContact;

    public UsageSink(SinkConfig config, DataSource dataSource, Clock clock, MeterRegistry registry) {
        this.config = Objects.requireNonNull(config, "config");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.database = new SinkDatabase(Objects.requireNonNull(dataSource, "dataSource"));
        this.metrics = new SinkMetrics(Objects.requireNonNull(registry, "registry"), config.name(), this::ready);
        this.backoff = config.retryBackoffMin();
    }

    /** Starts consuming on a thread of its own, {@code meter-usage-sink}. */
    public synchronized void start() {
        if (thread != null) {
            throw new IllegalStateException("sink " + config.name() + " was already started");
        }
        consumer = new KafkaConsumer<>(config.consumerProperties());
        running = true;
        thread = new Thread(this::run, "meter-usage-sink");
        thread.start();
        log.info("usage sink {} started: {} and {} into {}", config.name(), config.topics().usageSummaries(),
                config.topics().usageEvents(), config.maskedDbUrl() == null ? "the given data source" : config.maskedDbUrl());
    }

    /** True while the sink runs and can write to PostgreSQL (for {@code /health/ready}). */
    public boolean ready() {
        return running && ready;
    }

    public boolean isRunning() {
        return running && thread != null && thread.isAlive();
    }

    /** Stops after the batch in progress; everything written is committed with its offsets. */
    public synchronized void stop() {
        if (thread == null) {
            return;
        }
        running = false;
        consumer.wakeup();
        try {
            thread.join(STOP_TIMEOUT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            log.warn("usage sink {} did not stop within {}", config.name(), STOP_TIMEOUT);
        }
    }

    @Override
    public void close() {
        stop();
    }

    private void run() {
        try {
            consumer.subscribe(List.of(config.topics().usageSummaries(), config.topics().usageEvents()),
                    new SeekToStoredOffsets());
            while (running) {
                if (resyncNeeded && !resync()) {
                    waitWhilePaused();
                    continue;
                }
                ConsumerRecords<byte[], byte[]> records = consumer.poll(POLL_TIMEOUT);
                metrics.lag.set(lag());
                if (resyncNeeded) {
                    continue; // an assignment failed during this poll; the resync seeks every partition again
                }
                if (records.isEmpty()) {
                    checkDatabaseWhenIdle();
                    continue;
                }
                write(records);
            }
        } catch (WakeupException e) {
            if (running) {
                log.error("usage sink {} woken up while running", config.name(), e);
            }
        } catch (RuntimeException | Error e) {
            log.error("usage sink {} stopped by an unexpected failure", config.name(), e);
        } finally {
            running = false;
            ready = false;
            closeQuietly();
            log.info("usage sink {} stopped", config.name());
        }
    }

    /** Records past the read position on the assigned partitions, from what the consumer already knows. */
    private long lag() {
        long lag = 0;
        for (TopicPartition partition : consumer.assignment()) {
            OptionalLong behind = consumer.currentLag(partition);
            if (behind.isPresent()) {
                lag += behind.getAsLong();
            }
        }
        return lag;
    }

    private void write(ConsumerRecords<byte[], byte[]> records) {
        SinkBatch batch = SinkBatch.of(records, config.topics(), clock.instant());
        Timer.Sample sample = Timer.start();
        Set<YearMonth> monthsEnsured = new HashSet<>();
        SinkWriter.Written written;
        try {
            sendDeadLetters(batch.deadLetters());
            written = database.inTransaction(tx ->
                    SinkWriter.write(tx, config.name(), batch, knownMonths, monthsEnsured, clock.instant()));
        } catch (RuntimeException e) {
            if (!SqlFailures.isRefusedRow(e)) {
                unavailable("cannot write a batch of " + batch.records() + " records", e);
                return;
            }
            log.warn("usage sink {}: PostgreSQL refused a row of a batch of {} records, isolating it: {}", config.name(),
                    batch.records(), SqlFailures.describe(e));
            monthsEnsured.clear();
            try {
                written = writeIsolating(records, batch, monthsEnsured);
            } catch (RuntimeException again) {
                monthsEnsured.clear();
                unavailable("cannot write a batch of " + batch.records() + " records", again);
                return;
            }
        }
        sample.stop(metrics.batchWrite);
        knownMonths.addAll(monthsEnsured);
        metrics.batchRecords.record(batch.records());
        metrics.eventRows.increment(written.events());
        metrics.summaryRows.increment(written.summaries());
        metrics.summaryDeletes.increment(written.summariesDeleted());
        metrics.userRows.increment(written.users());
        for (ConsumerRecord<byte[], byte[]> record : records) {
            consumed.computeIfAbsent(record.topic(), metrics::consumed).increment();
        }
        available();
        Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
        batch.nextOffsets().forEach((tp, next) -> commit.put(tp, new OffsetAndMetadata(next)));
        // For lag monitoring only: the sink never reads these back, so a failed commit changes nothing.
        try {
            consumer.commitAsync(commit, (offsets, e) -> {
                if (e != null) {
                    log.debug("committing offsets to Kafka for monitoring failed: {}", e.getMessage());
                }
            });
        } catch (RuntimeException e) {
            log.debug("committing offsets to Kafka for monitoring failed: {}", e.getMessage());
        }
    }

    /**
     * The batch again in one transaction, its records split in halves under savepoints until each
     * refused row stands alone: a refused record goes to the dead-letter topic with PostgreSQL's reason
     * (durably, before the commit), every other row is written, and the offsets of the whole batch are
     * stored with them, so nothing is lost or doubled. A failure that is not a refused row aborts it all.
     */
    private SinkWriter.Written writeIsolating(ConsumerRecords<byte[], byte[]> records, SinkBatch batch,
                                              Set<YearMonth> monthsEnsured) {
        List<ConsumerRecord<byte[], byte[]>> all = new ArrayList<>(records.count());
        records.forEach(all::add);
        List<DeadLetter> refused = new ArrayList<>();
        SinkWriter.Written written = database.inTransaction(tx -> {
            refused.clear();
            monthsEnsured.clear();
            SinkWriter.Written rows = writeSeparately(tx, all, refused, monthsEnsured);
            sendDeadLetters(refused);
            SinkWriter.storeOffsets(tx, config.name(), batch.nextOffsets(), clock.instant().atOffset(ZoneOffset.UTC));
            return rows;
        });
        log.warn("usage sink {}: {} of {} records refused by PostgreSQL went to {}", config.name(), refused.size(),
                all.size(), config.topics().deadLetter());
        return written;
    }

    private SinkWriter.Written writeSeparately(DSLContext tx, List<ConsumerRecord<byte[], byte[]>> part,
                                               List<DeadLetter> refused, Set<YearMonth> monthsEnsured) {
        // Unreadable records of the part were already sent with the whole batch's dead letters.
        SinkBatch rows = SinkBatch.of(part, config.topics(), clock.instant());
        Set<YearMonth> ensured = new HashSet<>();
        try {
            SinkWriter.Written written = tx.transactionResult(savepoint ->
                    SinkWriter.writeRows(savepoint.dsl(), rows, knownMonths, ensured, clock.instant()));
            monthsEnsured.addAll(ensured);
            return written;
        } catch (RuntimeException e) {
            if (!SqlFailures.isRefusedRow(e)) {
                throw e;
            }
            if (part.size() == 1) {
                ConsumerRecord<byte[], byte[]> record = part.get(0);
                refused.add(DeadLetter.of(SinkBatch.STAGE, record.topic(), record.partition(), record.offset(),
                        record.key(), record.value(), "PostgreSQL refused the row: " + SqlFailures.describe(e), e,
                        clock.instant()));
                return SinkWriter.Written.NONE;
            }
            int half = part.size() / 2;
            return writeSeparately(tx, part.subList(0, half), refused, monthsEnsured)
                    .plus(writeSeparately(tx, part.subList(half, part.size()), refused, monthsEnsured));
        }
    }

    /** Seeks every assigned partition to its stored offset and resumes; false while the database is down. */
    private boolean resync() {
        Set<TopicPartition> assigned = consumer.assignment();
        try {
            if (assigned.isEmpty() && !database.reachable()) {
                throw new IllegalStateException("no answer");
            }
            seekToStored(assigned);
        } catch (RuntimeException e) {
            metrics.retries.increment();
            log.warn("usage sink {}: database still unavailable, retrying in {} ms: {}", config.name(),
                    backoff.toMillis(), e.getMessage());
            return false;
        }
        consumer.resume(assigned);
        resyncNeeded = false;
        log.info("usage sink {}: database available again, resuming {} partitions from stored offsets",
                config.name(), assigned.size());
        available();
        return true;
    }

    private void seekToStored(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        Map<TopicPartition, Long> stored = database.inTransaction(tx -> SinkWriter.readOffsets(tx, config.name(), partitions));
        List<TopicPartition> unseen = partitions.stream().filter(tp -> !stored.containsKey(tp)).toList();
        stored.forEach(consumer::seek);
        if (!unseen.isEmpty()) {
            consumer.seekToBeginning(unseen);
        }
        log.debug("usage sink {}: seeked {} to stored offsets {}, {} from the beginning", config.name(),
                partitions, stored, unseen);
    }

    /** Polls with every partition paused, which keeps the group membership while waiting out the backoff. */
    private void waitWhilePaused() {
        consumer.pause(consumer.assignment());
        ConsumerRecords<byte[], byte[]> ignored = consumer.poll(backoff);
        if (!ignored.isEmpty()) {
            log.debug("dropped {} records polled while paused; they are read again after the resync", ignored.count());
        }
        backoff = backoff.multipliedBy(2).compareTo(config.retryBackoffMax()) > 0
                ? config.retryBackoffMax() : backoff.multipliedBy(2);
    }

    private void checkDatabaseWhenIdle() {
        if (System.nanoTime() - lastDatabaseContact < IDLE_CHECK_NANOS && ready) {
            return;
        }
        if (database.reachable()) {
            available();
        } else {
            unavailable("database unreachable while idle", null);
        }
    }

    private void available() {
        ready = true;
        backoff = config.retryBackoffMin();
        lastDatabaseContact = System.nanoTime();
    }

    /**
     * Nothing of the failed batch was committed: pause, forget the positions and seek again from the
     * stored offsets once the database answers.
     */
    private void unavailable(String what, RuntimeException cause) {
        if (ready || !resyncNeeded) {
            log.warn("usage sink {}: {}; pausing and retrying with backoff: {}", config.name(), what,
                    cause == null ? "no answer" : cause.getMessage());
        }
        ready = false;
        resyncNeeded = true;
        metrics.retries.increment();
        consumer.pause(consumer.assignment());
    }

    private void sendDeadLetters(List<DeadLetter> deadLetters) {
        if (deadLetters.isEmpty()) {
            return;
        }
        if (deadLetterProducer == null) {
            deadLetterProducer = new KafkaProducer<>(config.deadLetterProducerProperties());
        }
        String topic = config.topics().deadLetter();
        for (DeadLetter letter : deadLetters) {
            log.warn("usage sink {}: {}-{}@{} to {}: {}", config.name(), letter.topic(), letter.partition(),
                    letter.offset(), topic, letter.reason());
            deadLetterProducer.send(new ProducerRecord<>(topic, letter.key(),
                    EventSerdes.deadLetter().serializer().serialize(topic, letter)));
        }
        // Durable before the transaction that moves the offsets past them.
        deadLetterProducer.flush();
        metrics.deadLetters.increment(deadLetters.size());
    }

    private void closeQuietly() {
        try {
            consumer.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
            log.debug("closing the consumer: {}", e.getMessage());
        }
        if (deadLetterProducer != null) {
            try {
                deadLetterProducer.close(Duration.ofSeconds(5));
            } catch (RuntimeException e) {
                log.debug("closing the dead-letter producer: {}", e.getMessage());
            }
        }
        database.close();
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
                seekToStored(partitions);
                available();
            } catch (RuntimeException e) {
                consumer.pause(partitions);
                unavailable("cannot read stored offsets of " + partitions, e);
            }
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            // Nothing to do: every batch is committed with its offsets before the next poll.
        }
    }
}
