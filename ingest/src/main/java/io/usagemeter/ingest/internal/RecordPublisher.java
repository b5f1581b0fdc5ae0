package io.usagemeter.ingest.internal;

import io.usagemeter.schema.topics.Topic;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.kafka.clients.producer.Callback;
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
        List<TopicRecord> records = new ArrayList<>(values.size());
        for (V value : values) {
            records.add(TopicRecord.of(topic, key.apply(value), value, time.apply(value)));
        }
        publish(topic.name(), records);
    }

    /**
     * Sends every record to {@code topic} and returns once Kafka acknowledged them all.
     *
     * @throws IngestRejection 503 when the producer's buffer is nearly full (nothing sent), or when Kafka did not
     *     acknowledge all records within the timeout
     */
    public void publish(String topic, List<TopicRecord> records) {
        refuseWhenBufferFull(topic, records.size());
        long deadline = System.nanoTime() + ackTimeout.toNanos();
        Acknowledgements acks = new Acknowledgements(records.size());
        try {
            for (TopicRecord record : records) {
                producer.send(new ProducerRecord<>(topic, null, record.timestamp(), record.key(), record.value()), acks);
                // send() may block up to max.block.ms (no metadata while the broker is down) and then
                // report the failure to the callback instead of throwing: stop at the first failure or
                // once the deadline passed, so one request never waits more than one bound.
                acks.throwIfFailed();
                if (System.nanoTime() - deadline >= 0) {
                    throw new TimeoutException();
                }
            }
            if (!acks.await(deadline)) {
                throw new TimeoutException();
            }
            acks.throwIfFailed();
        } catch (TimeoutException e) {
            throw unavailable(topic, records.size(), "not acknowledged within " + ackTimeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw unavailable(topic, records.size(), e.getCause().toString());
        } catch (KafkaException e) {
            // send() itself failed, e.g. the producer is closed.
            throw unavailable(topic, records.size(), e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw unavailable(topic, records.size(), "interrupted");
        }
    }

    /**
     * The acknowledgements of one request's records, one callback for all of them: the request thread
     * waits once for the last one (or the first failure) instead of on a future per record.
     */
    private static final class Acknowledgements implements Callback {
        private final AtomicInteger outstanding;
        private final CountDownLatch done = new CountDownLatch(1);
        private volatile Exception failure;

        Acknowledgements(int records) {
            this.outstanding = new AtomicInteger(records);
            if (records == 0) {
                done.countDown();
            }
        }

        @Override
        public void onCompletion(RecordMetadata metadata, Exception exception) {
            if (exception != null) {
                if (failure == null) {
                    failure = exception;
                }
                done.countDown();
            } else if (outstanding.decrementAndGet() == 0) {
                done.countDown();
            }
        }

        /** Whether every record was acknowledged, or one failed, before {@code deadline} ({@link System#nanoTime()}). */
        boolean await(long deadline) throws InterruptedException {
            return done.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        }

        void throwIfFailed() throws ExecutionException {
            Exception e = failure;
            if (e != null) {
                throw new ExecutionException(e);
            }
        }
    }

    /**
     * @throws IngestRejection 503 {@code producer_buffer_full} when less than {@link #BUFFER_RESERVE} of
     *     the buffer is free (a producer without these metrics is never refused here)
     */
    private void refuseWhenBufferFull(String topic, int events) {
        if (bufferAvailable == null) {
            return;
        }
        double available = ((Number) bufferAvailable.metricValue()).doubleValue();
        if (available < bufferReserveBytes) {
            LOG.debug("refused {} record(s) for {}: {} bytes free in the producer buffer", events, topic,
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

    private static IngestRejection unavailable(String topic, int events, String why) {
        LOG.warn("Kafka did not take {} record(s) for {}: {}", events, topic, why);
        return new IngestRejection(503, "kafka_unavailable",
                "Kafka did not acknowledge the events in time; nothing is guaranteed stored, retry the request",
                List.of(), events);
    }
}
