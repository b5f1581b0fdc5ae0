package io.usagemeter.enforcer.http;

import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.schema.json.Json;
import java.time.YearMonth;

/** Bodies of the admin write routes; {@code command_id} lets a client retry and still apply once. */
public final class AdminRequests {

    private AdminRequests() {
    }

    public record ResetUsage(YearMonth month, Boolean dryRun, String commandId) {}

    public record AddCredits(Long amount, String commandId) {}

    public record SetPlan(String plan, String commandId) {}

    /** Usage of a month seen against the current effective limit, before and after a reset. */
    public record UsageSnapshot(long used, long effectiveLimit, long remaining, String state) {

        /** {@code used} against {@code effectiveLimit}, its state by the limit rules under its wire name. */
        public static UsageSnapshot of(long used, long effectiveLimit) {
            return new UsageSnapshot(used, effectiveLimit, Math.max(effectiveLimit - used, 0),
                    Json.write(LimitRules.status(used, effectiveLimit)).replace("\"", ""));
        }
    }

    public record ResetUsageResult(String commandId, boolean dryRun, boolean published, java.util.UUID userId,
                                   YearMonth month, java.time.Instant resetAt, UsageSnapshot before, UsageSnapshot after) {}

    public record CommandAccepted(String commandId, String type, java.util.UUID userId, boolean published) {}
}
