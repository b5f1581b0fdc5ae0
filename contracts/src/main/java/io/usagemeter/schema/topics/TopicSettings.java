package io.usagemeter.schema.topics;

import io.usagemeter.schema.config.MeterEnvironment;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * How topics are created in one deployment: partitions, replication and durability, and how long
 * usage events are kept. Parsed once from {@code METER_KAFKA_*} variables.
 *
 * <p>Replication follows the cluster unless set: {@link #AUTO} replication and {@code min.insync.replicas}
 * become 3 and 2 on a cluster of 3 brokers or more (a broker may fail without losing an acknowledged
 * write), and the broker count and 1 on a smaller one. {@link #resolve} turns them into numbers once the
 * broker count is known ({@link TopicBootstrapper#resolve} asks the cluster); anything below 3 and 2 is
 * allowed, with a warning ({@link #warnings}). Kafka Streams' internal topics get the same
 * ({@link #streamsProperties}).
 *
 * @param replicationFactor {@link #AUTO} or 1 or more
 * @param minInsyncReplicas {@link #AUTO} or 1 to the replication factor
 * @param usageEventsRetention must cover the lateness bound plus a whole month, so a month can be
 *     replayed after its late events arrived
 */
public record TopicSettings(int partitions, short replicationFactor, int minInsyncReplicas, Duration usageEventsRetention) {

    public static final int DEFAULT_PARTITIONS = 6;
    public static final Duration DEFAULT_USAGE_EVENTS_RETENTION = Duration.ofDays(62);
    /** Replication or {@code min.insync.replicas} chosen from the cluster's size at bootstrap. */
    public static final short AUTO = 0;
    /** What a production cluster wants: replicas of every partition, and in-sync replicas of an acknowledged write. */
    public static final short PRODUCTION_REPLICATION_FACTOR = 3;
    public static final int PRODUCTION_MIN_INSYNC_REPLICAS = 2;

    public static final String PARTITIONS_VAR = "METER_KAFKA_PARTITIONS";
    public static final String REPLICATION_FACTOR_VAR = "METER_KAFKA_REPLICATION_FACTOR";
    public static final String MIN_INSYNC_REPLICAS_VAR = "METER_KAFKA_MIN_INSYNC_REPLICAS";
    public static final String USAGE_EVENTS_RETENTION_DAYS_VAR = "METER_KAFKA_USAGE_EVENTS_RETENTION_DAYS";

    public TopicSettings {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be 1 or more, was " + partitions);
        }
        if (replicationFactor < 0) {
            throw new IllegalArgumentException("replication factor must be 1 or more (or AUTO), was " + replicationFactor);
        }
        if (minInsyncReplicas < 0 || (replicationFactor != AUTO && minInsyncReplicas > replicationFactor)) {
            // With more in-sync replicas required than exist, every acks=all write would fail.
            throw new IllegalArgumentException("min.insync.replicas must be within 1 and the replication factor "
                    + replicationFactor + ", was " + minInsyncReplicas);
        }
        if (usageEventsRetention == null || usageEventsRetention.isNegative() || usageEventsRetention.isZero()) {
            throw new IllegalArgumentException("usage events retention must be positive, was " + usageEventsRetention);
        }
    }

    /** One broker (embedded or local): replication 1. */
    public static TopicSettings singleBroker() {
        return new TopicSettings(DEFAULT_PARTITIONS, (short) 1, 1, DEFAULT_USAGE_EVENTS_RETENTION);
    }

    /** From {@code METER_KAFKA_*} variables; replication and {@code min.insync.replicas} default to {@link #AUTO}. */
    public static TopicSettings fromEnv(Map<String, String> variables) {
        MeterEnvironment env = MeterEnvironment.of(variables);
        int partitions = env.positiveInt(PARTITIONS_VAR, DEFAULT_PARTITIONS);
        int replication = env.intIn(REPLICATION_FACTOR_VAR, AUTO, 1, Short.MAX_VALUE);
        int minIsr = env.intIn(MIN_INSYNC_REPLICAS_VAR, AUTO, 1, Short.MAX_VALUE);
        int retentionDays = env.positiveInt(USAGE_EVENTS_RETENTION_DAYS_VAR, (int) DEFAULT_USAGE_EVENTS_RETENTION.toDays());
        try {
            return new TopicSettings(partitions, (short) replication, minIsr, Duration.ofDays(retentionDays));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid Kafka topic settings (" + PARTITIONS_VAR + ", "
                    + REPLICATION_FACTOR_VAR + ", " + MIN_INSYNC_REPLICAS_VAR + ", " + USAGE_EVENTS_RETENTION_DAYS_VAR
                    + "): " + e.getMessage(), e);
        }
    }

    /** Whether replication and {@code min.insync.replicas} are numbers (not {@link #AUTO}). */
    public boolean resolved() {
        return replicationFactor != AUTO && minInsyncReplicas != AUTO;
    }

    /**
     * These settings on a cluster of {@code brokers}: {@link #AUTO} becomes 3 replicas and 2 in sync from 3
     * brokers on, else the broker count and 1.
     *
     * @throws IllegalStateException when the settings ask for more replicas than there are brokers
     */
    public TopicSettings resolve(int brokers) {
        if (brokers < 1) {
            throw new IllegalStateException("the Kafka cluster reports no broker");
        }
        short replication = replicationFactor != AUTO ? replicationFactor
                : (short) Math.min(brokers, PRODUCTION_REPLICATION_FACTOR);
        if (replication > brokers) {
            throw new IllegalStateException(REPLICATION_FACTOR_VAR + " is " + replication + " but the cluster has only "
                    + brokers + " broker" + (brokers == 1 ? "" : "s"));
        }
        int minIsr = minInsyncReplicas != AUTO ? minInsyncReplicas
                : replication >= PRODUCTION_REPLICATION_FACTOR ? PRODUCTION_MIN_INSYNC_REPLICAS : 1;
        if (minIsr > replication) {
            throw new IllegalStateException(MIN_INSYNC_REPLICAS_VAR + " is " + minIsr + " but topics get only "
                    + replication + " replica" + (replication == 1 ? "" : "s") + " on this cluster of " + brokers);
        }
        return new TopicSettings(partitions, replication, minIsr, usageEventsRetention);
    }

    /**
     * What resolved settings risk on a cluster of {@code brokers}, in one line (fine for development, not for
     * production); empty for production-grade ones.
     */
    public List<String> warnings(int brokers) {
        if (replicationFactor >= PRODUCTION_REPLICATION_FACTOR && minInsyncReplicas >= PRODUCTION_MIN_INSYNC_REPLICAS) {
            return List.of();
        }
        return List.of("topics get replication factor " + replicationFactor + " and min.insync.replicas "
                + minInsyncReplicas + " on a cluster of " + brokers + " broker" + (brokers == 1 ? "" : "s")
                + ": losing a broker can lose acknowledged records (fine for development); production needs "
                + PRODUCTION_REPLICATION_FACTOR + " and " + PRODUCTION_MIN_INSYNC_REPLICAS + " on 3 brokers or more ("
                + REPLICATION_FACTOR_VAR + ", " + MIN_INSYNC_REPLICAS_VAR + ")");
    }

    /**
     * Kafka Streams' {@code replication.factor} and its internal topics' {@code min.insync.replicas}, the same
     * as every other topic's; for resolved settings only.
     */
    public Map<String, Object> streamsProperties() {
        if (!resolved()) {
            throw new IllegalStateException("resolve the topic settings against the cluster first");
        }
        return Map.of("replication.factor", (int) replicationFactor,
                "topic.min.insync.replicas", Integer.toString(minInsyncReplicas));
    }
}
