package io.usagemeter.aggregator.replay;

import java.time.Instant;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * What a replay will read, fixed before it starts: per input partition the first offset whose record
 * time is at or after {@code eventsFrom}, and the end offset when it was planned.
 */
public record ReplayPlan(String jobId, ReplayRange range, boolean dryRun, Instant eventsFrom,
                         Map<TopicPartition, Long> startOffsets, Map<TopicPartition, Long> endOffsets) {

    public ReplayPlan {
        startOffsets = Map.copyOf(startOffsets);
        endOffsets = Map.copyOf(endOffsets);
    }

    /** Input records between the start and end offsets of every partition. */
    public long recordsToRead() {
        return startOffsets.entrySet().stream()
                .mapToLong(e -> Math.max(0, endOffsets.getOrDefault(e.getKey(), 0L) - e.getValue()))
                .sum();
    }
}
