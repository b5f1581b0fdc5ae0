package io.usagemeter.schema.topics;

import io.usagemeter.schema.config.MeterEnvironment;
import java.time.Duration;
import java.util.Map;

/**
 * How topics are created in one deployment: partitions, replication and durability, and how long
 * usage events are kept. Parsed once from {@code METER_KAFKA_*} variables.
 *
 * @param usageEventsRetention must cover the lateness bound plus a whole month, so a month can be
 *     replayed after its late events arrived
 */
public record TopicSettings(int partitions, short replicationFactor, int minInsyncReplicas, Duration usageEventsRetention) {

    public static final int DEFAULT_PARTITIONS = 6;
    public static final Duration DEFAULT_USAGE_EVENTS_RETENTION = Duration.ofDays(62);

    public static final String PARTITIONS_VAR = "METER_KAFKA_PARTITIONS";
    public static final String REPLICATION_FACTOR_VAR = "METER_KAFKA_REPLICATION_FACTOR";
    public static final String MIN_INSYNC_REPLICAS_VAR = "METER_KAFKA_MIN_INSYNC_REPLICAS";
    public static final String USAGE_EVENTS_RETENTION_DAYS_VAR = "METER_KAFKA_USAGE_EVENTS_RETENTION_DAYS";

    public TopicSettings {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be 1 or more, was " + partitions);
        }
        if (replicationFactor < 1) {
            throw new IllegalArgumentException("replication factor must be 1 or more, was " + replicationFactor);
        }
        if (minInsyncReplicas < 1 || minInsyncReplicas > replicationFactor) {
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

    /** From {@code METER_KAFKA_*} variables, each defaulting to {@link #singleBroker()}'s value. */
    public static TopicSettings fromEnv(Map<String, String> variables) {
        MeterEnvironment env = MeterEnvironment.of(variables);
        int partitions = env.positiveInt(PARTITIONS_VAR, DEFAULT_PARTITIONS);
        int replication = env.intIn(REPLICATION_FACTOR_VAR, 1, 1, Short.MAX_VALUE);
        // A replicated cluster defaults to surviving one broker loss without losing acked writes.
        int minIsr = env.positiveInt(MIN_INSYNC_REPLICAS_VAR, replication >= 3 ? 2 : 1);
        int retentionDays = env.positiveInt(USAGE_EVENTS_RETENTION_DAYS_VAR, (int) DEFAULT_USAGE_EVENTS_RETENTION.toDays());
        try {
            return new TopicSettings(partitions, (short) replication, minIsr, Duration.ofDays(retentionDays));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid Kafka topic settings (" + PARTITIONS_VAR + ", "
                    + REPLICATION_FACTOR_VAR + ", " + MIN_INSYNC_REPLICAS_VAR + ", " + USAGE_EVENTS_RETENTION_DAYS_VAR
                    + "): " + e.getMessage(), e);
        }
    }
}
