package io.usagemeter.enforcer.http;

import java.time.YearMonth;

/** Bodies of the admin write routes; {@code command_id} lets a client retry and still apply once. */
public final class AdminRequests {

    private AdminRequests() {
    }

    public record ResetUsage(YearMonth month, Boolean dryRun, String commandId) {}

    public record AddCredits(Long amount, String commandId) {}

    public record SetPlan(String plan, String commandId) {}

    /** Usage of a month seen against the current effective limit, before and after a reset. */
    public record UsageSnapshot(long used, long effectiveLimit, long remaining, String state) {}

    public record ResetUsageResult(String commandId, boolean dryRun, boolean published, java.util.UUID userId,
                                   YearMonth month, java.time.Instant resetAt, UsageSnapshot before, UsageSnapshot after) {}

    public record CommandAccepted(String commandId, String type, java.util.UUID userId, boolean published) {}
}
