package io.usagemeter.aggregator.replay;

import java.time.Duration;
import java.util.List;

/**
 * The outcome of a replay: how many summaries were rebuilt, which differed and what was done, for the
 * summaries and for the raw events.
 *
 * @param rowsRepaired {@code monthly_usage_summary} rows rewritten (0 on a dry run)
 * @param apiUsage what was restored in {@code api_usage} (on a dry run: what would be)
 */
public record ReplayReport(String jobId, ReplayRange range, boolean dryRun, long recordsRead, Duration took,
                           int summariesRebuilt, int rowsRepaired, List<SummaryChange> changes,
                           ApiUsageRepair apiUsage) {

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
