package io.usagemeter.bench;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * When each watched user first appears on a topic, as this process sees it: a consumer of its own, assigned
 * every partition from the end, no group. With {@code readCommitted} it sees what the services downstream see
 * (a transactional writer's records once committed). Keys are decoded only to find the user.
 */
final class TopicSightings implements AutoCloseable {

    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Function<byte[], UUID> userOfKey;
    private final Set<UUID> watched = ConcurrentHashMap.newKeySet();
    private final Map<UUID, Long> seenAt = new ConcurrentHashMap<>();
    private final Thread poller;
    private volatile boolean running = true;

    TopicSightings(String bootstrap, String topic, boolean readCommitted, Function<byte[], UUID> userOfKey) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, readCommitted ? "read_committed" : "read_uncommitted");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5_000);
        this.consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.userOfKey = userOfKey;
        List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                .map(info -> new TopicPartition(topic, info.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToEnd(partitions);
        partitions.forEach(consumer::position);
        this.poller = new Thread(this::poll, "sightings-" + topic);
        poller.setDaemon(true);
        poller.start();
    }

    /** From now on, the first record of {@code user} is noted. */
    void watch(UUID user) {
        watched.add(user);
    }

    /** {@link System#nanoTime()} when a record of {@code user} was first polled, or null. */
    Long seenAt(UUID user) {
        return seenAt.get(user);
    }

    private void poll() {
        try {
            while (running) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    long now = System.nanoTime();
                    UUID user = userOfKey.apply(r.key());
                    if (user != null && watched.contains(user)) {
                        seenAt.putIfAbsent(user, now);
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        poller.join(5_000);
    }
}
