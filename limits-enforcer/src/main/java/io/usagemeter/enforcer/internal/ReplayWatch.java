package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.events.ReplayStatus;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.time.Duration;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows the replays topic (compacted, one partition, read whole by every instance) so limit checks
 * of a month being rebuilt answer {@code stale: true}. No consumer group: every instance reads it all.
 */
public final class ReplayWatch implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ReplayWatch.class);

    private final KafkaConsumer<String, ReplayStatus> consumer;
    private final Map<String, ReplayStatus> replays = new ConcurrentHashMap<>();
    private final Clock clock;
    private final Thread thread;
    private volatile boolean running = true;

    public ReplayWatch(String bootstrapServers, Clock clock) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), Topics.REPLAYS.valueSerde().deserializer());
        this.clock = clock;
        this.thread = new Thread(this::follow, "enforcer-replay-watch");
        thread.setDaemon(true);
    }

    public ReplayWatch start() {
        thread.start();
        return this;
    }

    /** Whether a replay is rebuilding {@code month} now (running, with a fresh heartbeat). */
    public boolean rebuilding(YearMonth month) {
        if (replays.isEmpty()) {
            return false;
        }
        var now = clock.instant();
        return replays.values().stream().anyMatch(r -> r.rebuilds(month, now));
    }

    private void follow() {
        TopicPartition tp = new TopicPartition(Topics.REPLAYS.name(), 0);
        try {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            while (running) {
                for (ConsumerRecord<String, ReplayStatus> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.value() == null) {
                        replays.remove(r.key());
                    } else {
                        replays.put(r.key(), r.value());
                    }
                }
            }
        } catch (WakeupException stopping) {
            // closing
        } catch (RuntimeException e) {
            LOG.warn("stopped following {}: {}; checks no longer learn of replays", Topics.REPLAYS.name(), e.toString());
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
