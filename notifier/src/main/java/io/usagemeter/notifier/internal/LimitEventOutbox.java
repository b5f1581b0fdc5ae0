package io.usagemeter.notifier.internal;

import io.usagemeter.notifier.WebhookMessage;
import io.usagemeter.notifier.db.DeliveryLog;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads {@code meter.limit-events} and writes one delivery per subscribed endpoint to the delivery
 * log, then commits the offsets: an event is either in PostgreSQL or will be read again. A record
 * that does not parse goes to the dead-letter topic with the reason and is skipped.
 */
public final class LimitEventOutbox implements Runnable {

    private static final Logger LOG = LoggerFactory.getLogger(LimitEventOutbox.class);
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(1);

    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<byte[], DeadLetter> deadLetters;
    private final DeliveryLog log;
    private final Runnable wakeDispatcher;
    private final NotifierMetrics metrics;
    private final Clock clock;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean running = true;
    private volatile boolean assigned;
    private volatile boolean started;

    public LimitEventOutbox(KafkaConsumer<String, byte[]> consumer, KafkaProducer<byte[], DeadLetter> deadLetters,
                            DeliveryLog log, Runnable wakeDispatcher, NotifierMetrics metrics, Clock clock) {
        this.consumer = consumer;
        this.deadLetters = deadLetters;
        this.log = log;
        this.wakeDispatcher = wakeDispatcher;
        this.metrics = metrics;
        this.clock = clock;
    }

    /** Whether the consumer has joined its group and holds partitions (for readiness). */
    public boolean assigned() {
        return assigned;
    }

    @Override
    public void run() {
        started = true;
        try {
            consumer.subscribe(List.of(Topics.LIMIT_EVENTS.name()));
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(POLL);
                assigned = !consumer.assignment().isEmpty();
                if (records.isEmpty()) {
                    continue;
                }
                try {
                    store(records);
                } catch (RuntimeException e) {
                    // Nothing committed: read the same records again once PostgreSQL answers.
                    LOG.warn("could not write {} limit events to the delivery log, reading them again: {}",
                            records.count(), e.toString());
                    rewind(records);
                    sleep(RETRY_AFTER_FAILURE);
                }
            }
        } catch (WakeupException e) {
            if (running) {
                throw e;
            }
        } finally {
            consumer.close(Duration.ofSeconds(5));
            stopped.countDown();
        }
    }

    private void store(ConsumerRecords<String, byte[]> records) {
        Map<String, List<UUID>> subscribers = log.subscribers();
        List<DeliveryLog.Outgoing> outgoing = new ArrayList<>();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (ConsumerRecord<String, byte[]> record : records) {
            offsets.put(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1));
            LimitEvent event;
            try {
                event = Topics.LIMIT_EVENTS.valueSerde().deserializer().deserialize(record.topic(), record.value());
            } catch (RuntimeException e) {
                deadLetter(record, e);
                continue;
            }
            if (event == null) {
                continue;
            }
            WebhookMessage message = WebhookMessage.of(event);
            for (UUID endpoint : subscribers.getOrDefault(message.type().wireName(), List.of())) {
                outgoing.add(new DeliveryLog.Outgoing(endpoint, message));
            }
        }
        int added = log.enqueue(outgoing, clock.instant());
        consumer.commitSync(offsets);
        if (added > 0) {
            metrics.enqueued(added);
            wakeDispatcher.run();
        }
        LOG.debug("{} limit events, {} new deliveries", records.count(), added);
    }

    private void deadLetter(ConsumerRecord<String, byte[]> record, RuntimeException e) {
        LOG.warn("limit event at {}-{}@{} does not parse; sent to {}: {}", record.topic(), record.partition(),
                record.offset(), Topics.DEAD_LETTER.name(), e.getMessage());
        byte[] key = record.key() == null ? null : record.key().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        DeadLetter letter = DeadLetter.of("notifier.deserialization", record.topic(), record.partition(), record.offset(),
                key, record.value(), "not a limit event: " + e.getMessage(), e, clock.instant());
        try {
            deadLetters.send(new ProducerRecord<>(Topics.DEAD_LETTER.name(), key, letter)).get(30, TimeUnit.SECONDS);
        } catch (Exception failed) {
            throw new IllegalStateException("could not write to " + Topics.DEAD_LETTER.name() + ": " + failed, failed);
        }
    }

    private void rewind(ConsumerRecords<String, byte[]> records) {
        for (TopicPartition partition : records.partitions()) {
            consumer.seek(partition, records.records(partition).get(0).offset());
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public void stop() {
        running = false;
        if (!started) {
            consumer.close(Duration.ZERO);
            return;
        }
        consumer.wakeup();
        try {
            stopped.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
