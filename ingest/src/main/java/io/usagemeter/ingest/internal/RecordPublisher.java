package io.usagemeter.ingest.internal;

import io.usagemeter.schema.topics.Topic;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.Metric;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the records of one request and returns only once Kafka acknowledged every one of them,
 * or throws a 503 rejection when that does not happen within the acknowledgement timeout.
 *
 * <p>A 503 can follow a partial write (some records taken, some not). That is safe because the
 * caller retries the whole request and the pipeline dedupes by event id; what must never happen
 * is the opposite, a 202 for a record Kafka did not take.
 *
 * <p>When the producer's buffer is nearly full (Kafka takes records more slowly than they come), a
 * request is refused with 503 at once, before anything is sent, instead of blocking in {@code send()}
 * for up to {@code max.block.ms} while holding one of the server's in-flight slots.
 */
public final class RecordPublisher {

    private static final Logger LOG = LoggerFactory.getLogger(RecordPublisher.class);

    /** Below this share of the producer's buffer left free, requests are refused at once. */
    static final double BUFFER_RESERVE = 1.0 / 8;

    private final Producer<byte[], byte[]> producer;
    private final Duration ackTimeout;
    private final Metric bufferAvailable;
    /** Free bytes below which a request is refused; the buffer's size does not change. */
    private final double bufferReserveBytes;

    public RecordPublisher(Producer<byte[], byte[]> producer, Duration ackTimeout) {
        this.producer = producer;
        this.ackTimeout = ackTimeout;
        this.bufferAvailable = producerMetric(producer, "buffer-available-bytes");
        Metric bufferTotal = producerMetric(producer, "buffer-total-bytes");
        this.bufferReserveBytes = bufferTotal == null ? 0 : ((Number) bufferTotal.metricValue()).doubleValue() * BUFFER_RESERVE;
    }

    /**
     * Publishes every value keyed by {@code key} with {@code time} as the record timestamp.
     *
     * @throws IngestRejection 503 when Kafka did not acknowledge all records within the timeout
     */
    public <K, V> void publishAll(Topic<K, V> topic, List<V> values, Function<V, K> key, Function<V, Instant> time) {
        refuseWhenBufferFull(topic, values.size());
        long deadline = System.nanoTime() + ackTimeout.toNanos();
        List<Future<RecordMetadata>> acks = new ArrayList<>(values.size());
        try {
            var keySerializer = topic.keySerde().serializer();
            var valueSerializer = topic.valueSerde().serializer();
            for (V value : values) {
                Future<RecordMetadata> ack = producer.send(new ProducerRecord<>(topic.name(), null,
                        time.apply(value).toEpochMilli(),
                        keySerializer.serialize(topic.name(), key.apply(value)),
                        valueSerializer.serialize(topic.name(), value)));
                acks.add(ack);
                // send() may block up to max.block.ms (no metadata while the broker is down) and then
                // return an already failed future instead of throwing: stop at the first such
                // failure or once the deadline passed, so one request never waits more than one bound.
                if (ack.isDone() || System.nanoTime() - deadline >= 0) {
                    if (System.nanoTime() - deadline >= 0) {
                        throw new TimeoutException();
                    }
                    ack.get();
                }
            }
            for (Future<RecordMetadata> ack : acks) {
                long remaining = deadline - System.nanoTime();
                ack.get(Math.max(0, remaining), TimeUnit.NANOSECONDS);
            }
        } catch (TimeoutException e) {
            throw unavailable(topic, values.size(), "not acknowledged within " + ackTimeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw unavailable(topic, values.size(), e.getCause().toString());
        } catch (KafkaException e) {
            // send() itself failed, e.g. no metadata or a full buffer within max.block.ms.
            throw unavailable(topic, values.size(), e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable(topic, values.size(), "interrupted");
        }
    }

    /**
     * @throws IngestRejection 503 {@code producer_buffer_full} when less than {@link #BUFFER_RESERVE} of
     *     the buffer is free (a producer without these metrics is never refused here)
     */
    private void refuseWhenBufferFull(Topic<?, ?> topic, int events) {
        if (bufferAvailable == null) {
            return;
        }
        double available = ((Number) bufferAvailable.metricValue()).doubleValue();
        if (available < bufferReserveBytes) {
            LOG.debug("refused {} record(s) for {}: {} bytes free in the producer buffer", events, topic.name(),
                    (long) available);
            throw new IngestRejection(503, "producer_buffer_full",
                    "ingest is taking events faster than Kafka acknowledges them; nothing was stored, retry the request",
                    List.of(), events);
        }
    }

    private static Metric producerMetric(Producer<?, ?> producer, String name) {
        return producer.metrics().entrySet().stream()
                .filter(e -> e.getKey().group().equals("producer-metrics") && e.getKey().name().equals(name))
                .map(Map.Entry::getValue).findFirst().orElse(null);
    }

    private static IngestRejection unavailable(Topic<?, ?> topic, int events, String why) {
        LOG.warn("Kafka did not take {} record(s) for {}: {}", events, topic.name(), why);
        return new IngestRejection(503, "kafka_unavailable",
                "Kafka did not acknowledge the events in time; nothing is guaranteed stored, retry the request",
                List.of(), events);
    }
}
