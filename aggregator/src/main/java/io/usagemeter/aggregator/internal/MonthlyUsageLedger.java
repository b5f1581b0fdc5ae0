package io.usagemeter.aggregator.internal;

import io.usagemeter.aggregator.AggregatorTopology;
import io.usagemeter.schema.events.AdminCommand.ResetUsage;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.BiConsumer;
import org.apache.kafka.streams.processor.api.ProcessingContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The monthly usage of the users of one stream task: dedupe, counting into calendar months, usage
 * resets and the purges that bound the state. The state is one summary and at most one reset per
 * user and month, plus the events of the last dedupe window ({@link RecentEvents}).
 *
 * <p>Every decision depends only on the events themselves (never on wall-clock time), so replaying the
 * same input makes the same decisions. Dedupe and resets run on the user's <em>event-time high water</em>,
 * the latest {@code occurred_at} of the user's own events seen, so they do not depend on other users'
 * events either (nor on the partition count); the retention runs on the task's high water, the latest
 * {@code occurred_at} of any event seen by this task.
 *
 * <ul>
 *   <li><b>Dedupe.</b> An event is a duplicate when its {@code (user, event_id)} was remembered no
 *       more than the dedupe window before the user's high water. An event is remembered at the user's
 *       high water once it is seen, so a late event's retries are recognised for a whole window too; an
 *       {@code event_id} seen again after the window counts again.</li>
 *   <li><b>Months.</b> An event counts in the UTC calendar month of its {@code occurred_at};
 *       months before the retention leave the stores, and events for them are no longer counted.</li>
 *   <li><b>Resets.</b> After a reset at instant T, the month counts only events with
 *       {@code occurred_at > T}; the latest T wins. A reset recomputes the month from the remembered
 *       events, so it is applied only when they hold every counted event after T: T at or after the
 *       user's high water minus the window, T at or after the month's end (the month empties), or T before
 *       the month's start (nothing changes). Otherwise it is refused and nothing changes.</li>
 * </ul>
 *
 * <p>Changed summaries are not sent one by one: the ledger notes their keys and {@link #publish}
 * hands each changed summary over once.
 */
public final class MonthlyUsageLedger {

    private final RecentEvents recent;
    private final KeyValueStore<String, Instant> resets;
    private final Set<String> resetMonths;
    private final KeyValueStore<String, MonthlySummary> summaries;
    private final Duration window;
    private final int retentionMonths;
    private long retainedFromMs = Long.MAX_VALUE;
    private long retainedUntilMs = Long.MIN_VALUE;
    private YearMonth oldestRetained;

    /** The ledger over the stores of the task that {@code context} belongs to. */
    public MonthlyUsageLedger(ProcessingContext context, LedgerSettings settings) {
        RecentEventsStore recentEvents = context.getStateStore(AggregatorTopology.RECENT_EVENTS_STORE);
        this.recent = recentEvents.memory();
        this.resets = context.getStateStore(AggregatorTopology.USAGE_RESETS_STORE);
        this.resetMonths = recent.resetMonths(resets);
        this.summaries = context.getStateStore(AggregatorTopology.MONTHLY_SUMMARIES_STORE);
        this.window = settings.dedupeWindow();
        this.retentionMonths = settings.retentionMonths();
    }

    /** What the ledger needs from the configuration. */
    public record LedgerSettings(Duration dedupeWindow, int retentionMonths) {
    }

    /** Counts {@code event} unless it is a duplicate, too old, or excluded by a reset. */
    public void count(UsageEvent event) {
        if (event.occurredAt().getEpochSecond() < 0) {
            throw new IllegalArgumentException("event time before 1970 cannot be stored: " + event.occurredAt());
        }
        if (recent.remembers(event, recent.highWaterWith(event))) {
            recent.advance(event);
            return;
        }
        YearMonth month = event.month();
        String key = StateKeys.userMonth(month, event.userId());
        MonthlySummary updated = null;
        if (!month.isBefore(oldestRetained(recent.taskHighWaterWith(event.occurredAt())))) {
            Instant resetAt = resetMonths.contains(key) ? resets.get(key) : null;
            if (resetAt == null || event.occurredAt().isAfter(resetAt)) {
                MonthlySummary current = summaries.get(key);
                // Computed before anything changes: a failure here leaves the state as it was.
                updated = (current == null ? MonthlySummary.empty(MonthlySummaryKey.of(event)) : current).plus(event);
            }
        }
        recent.remember(event);
        if (updated != null) {
            summaries.put(key, updated);
            recent.changed(key, updated);
        }
    }

    /**
     * Applies a usage reset and recomputes the month, or does nothing when an equal or later reset
     * was already applied (or the month is past the retention).
     *
     * @throws IllegalStateException when the reset falls inside the month and before the remembered
     *     events, so it cannot be applied exactly (nothing is changed)
     */
    public void reset(ResetUsage reset) {
        String key = StateKeys.userMonth(reset.month(), reset.userId());
        Instant previous = resets.get(key);
        if (previous != null && !reset.resetAt().isAfter(previous)) {
            return;
        }
        Instant highWater = recent.highWater();
        if (highWater != null && reset.month().isBefore(oldestRetained(highWater.toEpochMilli()))) {
            return;
        }
        Instant monthStart = reset.month().atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        Instant monthEnd = reset.month().plusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        Instant rememberedFrom = recent.rememberedFrom(reset.userId());
        MonthlySummaryKey summaryKey = new MonthlySummaryKey(reset.userId(), reset.month());
        MonthlySummary summary;
        if (!reset.resetAt().isBefore(monthEnd)) {
            summary = MonthlySummary.empty(summaryKey);
        } else if (rememberedFrom == null || !reset.resetAt().isBefore(rememberedFrom)) {
            summary = recent.summaryAfter(reset.userId(), reset.month(), reset.resetAt());
        } else if (reset.resetAt().isBefore(monthStart)) {
            MonthlySummary current = summaries.get(key);
            summary = current == null ? MonthlySummary.empty(summaryKey) : current;
        } else {
            throw new IllegalStateException("usage reset " + reset.commandId() + " of " + reset.month() + " at "
                    + reset.resetAt() + " cannot be applied exactly: it lies before the dedupe window of the user, which"
                    + " reaches back to " + rememberedFrom + " (the user's latest event time "
                    + recent.highWaterOf(reset.userId()) + " minus " + window + "); only the user's events after that"
                    + " are remembered; nothing was changed; rebuild the month with `meter admin replay --month "
                    + reset.month() + "`");
        }
        resets.put(key, reset.resetAt());
        resetMonths.add(key);
        summaries.put(key, summary);
        recent.changed(key, summary);
    }

    /**
     * Hands each summary changed since the last call to {@code publisher}, once, with the task's high
     * water ({@code otherwise} before the task's first event).
     */
    public void publish(BiConsumer<MonthlySummary, Instant> publisher, Instant otherwise) {
        Instant asOf = recent.highWater() == null ? otherwise : recent.highWater();
        YearMonth oldest = recent.highWater() == null ? null : oldestRetained(recent.highWater().toEpochMilli());
        recent.takeUnpublished().forEach((key, changed) -> {
            MonthlySummary summary = changed != null ? changed : summaries.get(key);
            if (summary != null && (oldest == null || !summary.month().isBefore(oldest))) {
                publisher.accept(summary, asOf);
            }
        });
    }

    /** Removes the months past the retention; the dedupe memory forgets on its own as time passes. */
    public void purge() {
        Instant highWater = recent.highWater();
        if (highWater == null) {
            return;
        }
        YearMonth oldest = oldestRetained(highWater.toEpochMilli());
        deleteBefore(summaries, oldest);
        deleteBefore(resets, oldest);
    }

    /** The oldest month kept at {@code highWater}; remembered for the high water's month, as it is asked per event. */
    private YearMonth oldestRetained(long highWater) {
        if (highWater < retainedFromMs || highWater >= retainedUntilMs) {
            YearMonth latest = StateKeys.utcMonth(Instant.ofEpochMilli(highWater));
            retainedFromMs = latest.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC).toEpochMilli();
            retainedUntilMs = latest.plusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC).toEpochMilli();
            oldestRetained = latest.minusMonths(retentionMonths - 1L);
        }
        return oldestRetained;
    }

    private static <V> void deleteBefore(KeyValueStore<String, V> store, YearMonth month) {
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, V> range = store.range(StateKeys.first(), StateKeys.monthStart(month))) {
            while (range.hasNext()) {
                keys.add(range.next().key);
            }
        }
        keys.forEach(store::delete);
    }
}
