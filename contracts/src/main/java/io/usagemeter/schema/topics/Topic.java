package io.usagemeter.schema.topics;

import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.Serde;

/**
 * One topic, one typed definition: its name, the serdes of its keys and values, and how it is
 * created. Every producer, consumer and topology takes the serdes from here.
 *
 * @param retention how long records are kept, {@code null} to keep them forever (retention.ms -1)
 * @param otherConfigs further topic-level configs (e.g. {@code message.timestamp.type})
 */
public record Topic<K, V>(
        String name,
        Serde<K> keySerde,
        Serde<V> valueSerde,
        int partitions,
        CleanupPolicy cleanupPolicy,
        Duration retention,
        int minInsyncReplicas,
        Map<String, String> otherConfigs) {

    public enum CleanupPolicy {
        DELETE(TopicConfig.CLEANUP_POLICY_DELETE),
        COMPACT(TopicConfig.CLEANUP_POLICY_COMPACT);

        private final String config;

        CleanupPolicy(String config) {
            this.config = config;
        }

        public String config() {
            return config;
        }
    }

    public Topic {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(keySerde, "keySerde");
        Objects.requireNonNull(valueSerde, "valueSerde");
        Objects.requireNonNull(cleanupPolicy, "cleanupPolicy");
        if (partitions < 1) {
            throw new IllegalArgumentException(name + ": partitions must be 1 or more, was " + partitions);
        }
        if (minInsyncReplicas < 1) {
            throw new IllegalArgumentException(name + ": min.insync.replicas must be 1 or more, was " + minInsyncReplicas);
        }
        if (retention != null && (retention.isNegative() || retention.isZero())) {
            throw new IllegalArgumentException(name + ": retention must be positive or null (forever), was " + retention);
        }
        otherConfigs = Collections.unmodifiableMap(new TreeMap<>(otherConfigs));
    }

    /** Every topic-level config this definition sets, as the broker names them (sorted, immutable). */
    public Map<String, String> configs() {
        TreeMap<String, String> configs = new TreeMap<>(otherConfigs);
        configs.put(TopicConfig.CLEANUP_POLICY_CONFIG, cleanupPolicy.config());
        configs.put(TopicConfig.RETENTION_MS_CONFIG, retention == null ? "-1" : Long.toString(retention.toMillis()));
        configs.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, Integer.toString(minInsyncReplicas));
        return Collections.unmodifiableMap(configs);
    }

    public Topic<K, V> withPartitions(int partitions) {
        return new Topic<>(name, keySerde, valueSerde, partitions, cleanupPolicy, retention, minInsyncReplicas, otherConfigs);
    }

    public Topic<K, V> withRetention(Duration retention) {
        return new Topic<>(name, keySerde, valueSerde, partitions, cleanupPolicy, retention, minInsyncReplicas, otherConfigs);
    }

    public Topic<K, V> withMinInsyncReplicas(int minInsyncReplicas) {
        return new Topic<>(name, keySerde, valueSerde, partitions, cleanupPolicy, retention, minInsyncReplicas, otherConfigs);
    }

    @Override
    public String toString() {
        return name;
    }
}
