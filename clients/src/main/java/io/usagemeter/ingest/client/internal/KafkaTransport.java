package io.usagemeter.ingest.client.internal;

import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topic;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TimeoutException;

/**
 * Straight to the usage events topic: keyed by user id, record time = occurred_at. The producer
 * batches and lingers on its own; a record it gives up on (e.g. the broker was down longer than
 * {@code delivery.timeout.ms}) is handed back for another attempt after a backoff.
 */
public final class KafkaTransport implements Transport {

    private static final Duration UNAVAILABLE_PAUSE = Duration.ofSeconds(1);

    private final Producer<String, UsageEvent> producer;
    private final Topic<String, UsageEvent> topic;
    private final DeliveryOutcomes outcomes;
    private final long maxBlockNanos;
    private volatile long unavailableUntilNanos = System.nanoTime();

    public KafkaTransport(Properties producerProperties, Topic<String, UsageEvent> topic, DeliveryOutcomes outcomes) {
        this.producer = new KafkaProducer<>(producerProperties,
                topic.keySerde().serializer(), topic.valueSerde().serializer());
        this.topic = topic;
        this.outcomes = outcomes;
        this.maxBlockNanos = Duration.ofMillis(Long.parseLong(
                String.valueOf(producerProperties.getOrDefault(ProducerConfig.MAX_BLOCK_MS_CONFIG, 60_000)))).toNanos();
    }

    @Override
    public void send(PendingEvent pending) {
        UsageEvent event = pending.event();
        var record = new ProducerRecord<>(topic.name(), null, event.occurredAt().toEpochMilli(),
                event.userId().toString(), event);
        if (System.nanoTime() - unavailableUntilNanos < 0) {
            outcomes.retry(pending, new TimeoutException("Kafka unavailable (no metadata within max.block.ms)"), Duration.ZERO);
            return;
        }
        try {
            long started = System.nanoTime();
            Future<?> ack = producer.send(record, (metadata, error) -> {
                if (error == null) {
                    outcomes.delivered(pending);
                } else {
                    report(pending, error);
                }
            });
            // A send that blocked for all of max.block.ms and came back already failed means the
            // broker is unreachable: let the next sends fail over to backoff at once instead of
            // each blocking the caller (or the retry thread) for max.block.ms again.
            if (ack.isDone() && System.nanoTime() - started >= maxBlockNanos * 9 / 10) {
                unavailableUntilNanos = System.nanoTime() + UNAVAILABLE_PAUSE.toNanos();
            }
        } catch (KafkaException e) {
            // send() itself failed, e.g. no metadata within max.block.ms while the broker is down.
            report(pending, e);
        }
    }

    private void report(PendingEvent pending, Exception error) {
        if (error instanceof RetriableException) {
            outcomes.retry(pending, error, Duration.ZERO);
        } else {
            outcomes.refused(pending, "Kafka refused the record: " + error, error);
        }
    }

    @Override
    public void sendLingering() {
        // The producer lingers at most linger.ms; flush() would block the caller on the whole backlog.
    }

    @Override
    public void close(Duration timeout) {
        producer.close(timeout);
    }

    /** The producer's metrics, for callers who want to bind them (e.g. Micrometer's KafkaClientMetrics). */
    public Producer<String, UsageEvent> producer() {
        return producer;
    }
}
