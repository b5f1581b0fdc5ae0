package io.usagemeter.schema.reconcile;

import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * One month compared across the pipeline, per user: what the events topic says should be counted
 * (distinct accepted events, less the dead-lettered ones and those before a usage reset) against what
 * each stage holds. A difference is <em>explained</em> when a stage it depends on still has records to
 * process (its lag is shown) or when newer events arrived while the comparison ran; any other
 * difference is unexplained.
 *
 * @param users the users with anything in the month (or the one asked for), sorted by id
 * @param lag records each stage has still to process, by stage ({@link Stage})
 * @param deadLetterReasons dead-lettered usage events of the month by reason
 * @param unreadable records of the events topic that cannot be read and were not dead-lettered (yet)
 * @param enforcerChecked false when the enforcer's {@code used} was not asked (left out of the comparison)
 * @param enforcerUnanswered users the enforcer could not answer for (restoring, or not reachable): in flight
 */
public record Reconciliation(
        YearMonth month,
        Instant checkedAt,
        long tookMs,
        Verdict verdict,
        Totals totals,
        Map<Stage, Long> lag,
        boolean newerEventsArrived,
        Map<String, Long> deadLetterReasons,
        long unreadable,
        boolean enforcerChecked,
        long enforcerUnanswered,
        List<UserReconciliation> users) {

    public Reconciliation {
        Objects.requireNonNull(month, "month");
        lag = Map.copyOf(lag);
        deadLetterReasons = Map.copyOf(deadLetterReasons);
        users = List.copyOf(users);
    }

    /** The three outcomes: everything agrees, only explained differences, or at least one unexplained. */
    public enum Verdict {
        CLEAN, IN_FLIGHT, UNEXPLAINED;

        /** The exit code of {@code meter reconcile}: 1 only for an unexplained difference. */
        public int exitCode() {
            return this == UNEXPLAINED ? 1 : 0;
        }
    }

    /** The stages whose lag explains a difference, each with the records it has not yet processed. */
    public enum Stage {
        /** The aggregator's stream: usage events and admin commands it has not committed. */
        AGGREGATOR,
        /** The PostgreSQL sink: events and summaries not yet written ({@code sink_offsets}). */
        SINK,
        /** The enforcer's stream: summaries it has not committed. */
        ENFORCER
    }

    /** What a compared value is. */
    public enum Source {
        /** {@code meter.usage-summaries}, the aggregator's latest published summary. */
        PUBLISHED_SUMMARY(Stage.AGGREGATOR),
        /** {@code monthly_usage_summary}. */
        SUMMARY_ROW(Stage.SINK),
        /** {@code api_usage} rows of the month. */
        API_USAGE(Stage.SINK),
        /** The enforcer's {@code used} (the units of its summary). */
        ENFORCER_USED(Stage.ENFORCER);

        private final Stage stage;

        Source(Stage stage) {
            this.stage = stage;
        }

        public Stage stage() {
            return stage;
        }
    }

    /**
     * One value that differs from the events.
     *
     * @param measure {@code calls}, {@code units} or {@code rows}
     * @param explanation why it may differ for now (in flight), or null when nothing explains it
     */
    public record Difference(UUID userId, Source source, String measure, long expected, long actual,
                             String explanation) {

        public boolean explained() {
            return explanation != null;
        }
    }

    /**
     * One user's month.
     *
     * @param acceptedEvents distinct {@code (user, event_id)} of the month in the events topic, dead letters left out
     * @param deadLettered events of the month the pipeline dead-lettered (not counted anywhere)
     * @param resetAt the latest applied usage reset of the month, null for none
     * @param beforeReset accepted events at or before {@code resetAt} (in {@code api_usage}, not in the summary)
     * @param expectedCalls accepted events after the reset: what every summary should hold
     * @param expectedRows distinct {@code (event_id, occurred_at)}: the {@code api_usage} rows there should be
     * @param enforcerUsed null when the enforcer was not asked or could not answer
     */
    public record UserReconciliation(
            UUID userId,
            long acceptedEvents,
            long deadLettered,
            Instant resetAt,
            long beforeReset,
            long expectedCalls,
            long expectedUnits,
            long expectedRows,
            long expectedRowUnits,
            long publishedCalls,
            long publishedUnits,
            long summaryCalls,
            long summaryUnits,
            long apiUsageRows,
            long apiUsageUnits,
            Long enforcerUsed,
            List<Difference> differences) {

        public UserReconciliation {
            Objects.requireNonNull(userId, "userId");
            differences = List.copyOf(differences);
        }
    }

    /** Column sums over the users, and the differences counted. */
    public record Totals(
            long users,
            long acceptedEvents,
            long deadLettered,
            long beforeReset,
            long expectedCalls,
            long expectedUnits,
            long publishedCalls,
            long publishedUnits,
            long summaryCalls,
            long summaryUnits,
            long apiUsageRows,
            long enforcerUsed,
            long explainedDifferences,
            long unexplainedDifferences) {
    }
}
