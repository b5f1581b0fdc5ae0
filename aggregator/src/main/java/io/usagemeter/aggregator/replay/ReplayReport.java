package io.usagemeter.aggregator.replay;

import java.time.Duration;
import java.util.List;

/**
 * The outcome of a replay: how many summaries were rebuilt, which differed and what was done.
 *
 * @param rowsRepaired PostgreSQL rows rewritten (0 on a dry run)
 */
public record ReplayReport(String jobId, ReplayRange range, boolean dryRun, long recordsRead, Duration took,
                           int summariesRebuilt, int rowsRepaired, List<SummaryChange> changes) {

    public ReplayReport {
        changes = List.copyOf(changes);
    }

    public double recordsPerSecond() {
        return took.isZero() ? 0 : recordsRead * 1000.0 / Math.max(1, took.toMillis());
    }

    public long diverging() {
        return changes.stream().filter(c -> c.kind() == SummaryChange.Kind.STREAM_DIVERGES).count();
    }
}
