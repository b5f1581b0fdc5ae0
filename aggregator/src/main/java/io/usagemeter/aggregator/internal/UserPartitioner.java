package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.processor.StreamPartitioner;

/**
 * Puts a user's monthly summaries in the partition the user's events are in: the producer's
 * default partitioning of the {@code user_id} string key (murmur2 of its UTF-8 bytes), so a
 * consumer of summaries is co-partitioned with everything keyed by user.
 */
public final class UserPartitioner implements StreamPartitioner<MonthlySummaryKey, MonthlySummary> {

    public static int partitionOf(UUID user, int partitions) {
        return Utils.toPositive(Utils.murmur2(user.toString().getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    @Override
    public Optional<Set<Integer>> partitions(String topic, MonthlySummaryKey key, MonthlySummary value, int partitions) {
        return Optional.of(Set.of(partitionOf(key.userId(), partitions)));
    }
}
