package io.usagemeter.aggregator.replay;

import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import org.apache.kafka.common.TopicPartition;

/**
 * What a rewind of the live aggregator would do, found without changing anything ({@link AggregatorRewind#plan}).
 *
 * @param applicationId the live aggregator's application id (consumer group, prefix of its internal topics)
 * @param rewindTo the range start minus the dedupe window: every input partition goes back to its first record
 *     at or after this time
 * @param activeMembers members of the aggregator's group now (client id and host); a rewind refuses unless empty
 * @param positions per input partition, where the aggregator is and where it would restart
 * @param recordsToReread input records between the new positions and the current ends (more arrive meanwhile)
 * @param internalTopics its changelogs (and repartition topics) that Kafka's reset tool deletes
 * @param localState the state directory of the aggregator on this host ({@code METER_AGGREGATOR_STATE_DIR}/id)
 * @param localStatePresent whether {@code localState} exists here (removed by the rewind); other hosts' are not seen
 * @param oldestMonthStillReceivingEvents the month holding now minus the lateness bound: events for it and every
 *     later month may still arrive, so a start after it leaves months the aggregator cannot count whole
 */
public record RewindPlan(String applicationId, ReplayRange range, Instant rewindTo, List<String> activeMembers,
                         List<Position> positions, long recordsToReread, List<String> internalTopics, Path localState,
                         boolean localStatePresent, YearMonth oldestMonthStillReceivingEvents) {

    /** One input partition: its committed offset now (null when the group has none) and the one it is rewound to. */
    public record Position(TopicPartition partition, Long committed, long rewoundTo) {
    }

    public RewindPlan {
        activeMembers = List.copyOf(activeMembers);
        positions = List.copyOf(positions);
        internalTopics = List.copyOf(internalTopics);
    }

    /** Whether months still receiving late events lie before the range: their state would be lost. */
    public boolean leavesLateMonthsOut() {
        return range.firstMonth().isAfter(oldestMonthStillReceivingEvents);
    }
}
