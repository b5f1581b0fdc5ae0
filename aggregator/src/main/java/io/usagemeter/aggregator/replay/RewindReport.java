package io.usagemeter.aggregator.replay;

import java.util.List;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * A rewind done: the aggregator's committed offsets afterwards, the internal topics that no longer exist, and
 * whether the local state here was removed.
 */
public record RewindReport(RewindPlan plan, Map<TopicPartition, Long> committed, List<String> topicsDeleted,
                           boolean localStateRemoved) {

    public RewindReport {
        committed = Map.copyOf(committed);
        topicsDeleted = List.copyOf(topicsDeleted);
    }
}
