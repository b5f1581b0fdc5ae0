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
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.api.ProcessingContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The monthly usage of the users of one stream task, kept in its state stores: dedupe, counting
 * into calendar months, usage resets and the purges that bound the state.
 *
 * <p>Every decision depends only on the events themselves and on the order of the task's events
 * partition (never on wall-clock time or on how the admin-commands partition interleaves with it),
 * so replaying the same input makes the same decisions. The clock of all decisions is the
 * <em>event-time high water</em>: the latest {@code occurred_at} seen by this task.
 *
 * <ul>
 *   <li><b>Dedupe.</b> An event is a duplicate when its {@code (user, event_id)} was seen with an
 *       event time no more than the dedupe window behind the high water, or when the very same
 *       {@code (user, event_id, occurred_at)} is still kept as a counted event (months within the
 *       reset horizon). Entries outside these bounds are ignored whether or not a purge already
 *       removed them, so the purge schedule never changes a decision.</li>
 *   <li><b>Months.</b> An event counts in the UTC calendar month of its {@code occurred_at};
 *       months before the retention leave the stores, and events for them are no longer counted.</li>
 *   <li><b>Resets.</b> After a reset at instant T, the month counts only events with
 *       {@code occurred_at > T}; the latest T wins, so the order of resets and events does not
 *       matter. A reset recomputes the month from the counted events it keeps.</li>
 * </ul>
 */
public final class MonthlyUsageLedger {

    private static final String HIGH_WATER = "occurred-at-high-water";

    private final KeyValueStore<String, Long> eventTime;
    private final KeyValueStore<String, Long> seenEvents;
    private final KeyValueStore<String, UsageEvent> countedEvents;
    private final KeyValueStore<String, Instant> resets;
    private final KeyValueStore<String, MonthlySummary> summaries;
    private final long dedupeWindowMs;
    private final int retentionMonths;
    private final int resetHorizonMonths;
    /** Events remembered in the dedupe memory since it was last read in full (see {@link #purge()}). */
    private long rememberedSinceScan;

    /** The ledger over the stores of the task that {@code context} belongs to. */
    public MonthlyUsageLedger(ProcessingContext context, LedgerSettings settings) {
        this.eventTime = context.getStateStore(AggregatorTopology.EVENT_TIME_STORE);
        this.seenEvents = context.getStateStore(AggregatorTopology.SEEN_EVENTS_STORE);
        this.countedEvents = context.getStateStore(AggregatorTopology.COUNTED_EVENTS_STORE);
        this.resets = context.getStateStore(AggregatorTopology.USAGE_RESETS_STORE);
        this.summaries = context.getStateStore(AggregatorTopology.MONTHLY_SUMMARIES_STORE);
        this.dedupeWindowMs = settings.dedupeWindow().toMillis();
        this.retentionMonths = settings.retentionMonths();
        this.resetHorizonMonths = settings.resetHorizonMonths();
    }

    /** What the ledger needs from the configuration. */
    public record LedgerSettings(Duration dedupeWindow, int retentionMonths, int resetHorizonMonths) {
    }

    /** Counts {@code event} unless it is a duplicate, too old, or excluded by a reset; returns the changed summary. */
    public Optional<MonthlySummary> count(UsageEvent event) {
        UUID user = event.userId();
        YearMonth month = event.month();
        // Built first: it refuses times it cannot encode, and nothing may have changed when it does.
        String contributionKey = StateKeys.contribution(month, user, event.occurredAt(), event.eventId());
        long highWater = advanceHighWater(event.occurredAt());
        if (isDuplicate(event, highWater, month, contributionKey)) {
            return Optional.empty();
        }
        seenEvents.put(StateKeys.dedupe(user, event.eventId()), event.occurredAt().toEpochMilli());
        rememberedSinceScan++;
        if (month.isBefore(oldestRetained(highWater))) {
            return Optional.empty();
        }
        String key = StateKeys.userMonth(month, user);
        Instant resetAt = resets.get(key);
        if (resetAt != null && !event.occurredAt().isAfter(resetAt)) {
            return Optional.empty();
        }
        if (!month.isBefore(oldestRecomputable(highWater))) {
            countedEvents.put(contributionKey, event);
        }
        MonthlySummary current = summaries.get(key);
        MonthlySummary updated = (current == null ? MonthlySummary.empty(new MonthlySummaryKey(user, month)) : current)
                .plus(event);
        summaries.put(key, updated);
        return Optional.of(updated);
    }

    /**
     * Applies a usage reset and returns the month's recomputed summary, or nothing when an equal
     * or later reset was already applied (or the month is past the retention).
     *
     * @throws IllegalStateException when the month's events are no longer kept and the reset falls
     *     inside the month, so it cannot be applied exactly (nothing is changed)
     */
    public Optional<MonthlySummary> reset(ResetUsage reset) {
        String key = StateKeys.userMonth(reset.month(), reset.userId());
        Instant previous = resets.get(key);
        if (previous != null && !reset.resetAt().isAfter(previous)) {
            return Optional.empty();
        }
        Long highWater = eventTime.get(HIGH_WATER);
        if (highWater != null && reset.month().isBefore(oldestRetained(highWater))) {
            return Optional.empty();
        }
        boolean eventsKept = highWater == null || !reset.month().isBefore(oldestRecomputable(highWater));
        Instant monthEnd = reset.month().plusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        if (!eventsKept && reset.resetAt().isBefore(monthEnd)) {
            throw new IllegalStateException("usage reset " + reset.commandId() + " of " + reset.month()
                    + " at " + reset.resetAt() + " cannot be applied exactly: the events of that month are kept only "
                    + resetHorizonMonths + " months back from the latest event time");
        }
        resets.put(key, reset.resetAt());
        MonthlySummary summary = MonthlySummary.empty(new MonthlySummaryKey(reset.userId(), reset.month()));
        // Events at or before the reset never count again for this month: drop them.
        deleteRange(countedEvents, StateKeys.contributionsStart(reset.month(), reset.userId()),
                StateKeys.contributionsAfter(reset.month(), reset.userId(), reset.resetAt()));
        try (KeyValueIterator<String, UsageEvent> after = countedEvents.range(
                StateKeys.contributionsAfter(reset.month(), reset.userId(), reset.resetAt()),
                StateKeys.contributionsEnd(reset.month(), reset.userId()))) {
            while (after.hasNext()) {
                summary = summary.plus(after.next().value);
            }
        }
        summaries.put(key, summary);
        return Optional.of(summary);
    }

    /**
     * Removes what no decision can need any more; safe to run at any time.
     *
     * <p>The other stores lose whole months by one range, but the dedupe memory is ordered by
     * user and has to be read in full. It is read only once as many events were remembered since
     * the last reading as half its size: while a task catches up, stream time runs far ahead of
     * the clock and a purge falls due every few thousand events, and reading everything each time
     * took a third of the stream thread's time in the benchmark. Expired entries never change a
     * decision; they only take space a little longer.
     */
    public void purge() {
        Long highWater = eventTime.get(HIGH_WATER);
        if (highWater == null) {
            return;
        }
        if (rememberedSinceScan * 2 >= seenEvents.approximateNumEntries()) {
            rememberedSinceScan = 0;
            long seenCutoff = highWater - dedupeWindowMs;
            List<String> expired = new ArrayList<>();
            try (KeyValueIterator<String, Long> all = seenEvents.all()) {
                while (all.hasNext()) {
                    KeyValue<String, Long> seen = all.next();
                    if (seen.value < seenCutoff) {
                        expired.add(seen.key);
                    }
                }
            }
            expired.forEach(seenEvents::delete);
        }
        deleteBefore(countedEvents, oldestRecomputable(highWater));
        deleteBefore(summaries, oldestRetained(highWater));
        deleteBefore(resets, oldestRetained(highWater));
    }

    private boolean isDuplicate(UsageEvent event, long highWater, YearMonth month, String contributionKey) {
        Long seenAt = seenEvents.get(StateKeys.dedupe(event.userId(), event.eventId()));
        if (seenAt != null && seenAt >= highWater - dedupeWindowMs) {
            return true;
        }
        return !month.isBefore(oldestRecomputable(highWater)) && countedEvents.get(contributionKey) != null;
    }

    private long advanceHighWater(Instant occurredAt) {
        Long current = eventTime.get(HIGH_WATER);
        long at = occurredAt.toEpochMilli();
        if (current == null || at > current) {
            eventTime.put(HIGH_WATER, at);
            return at;
        }
        return current;
    }

    private YearMonth oldestRetained(long highWater) {
        return latestMonth(highWater).minusMonths(retentionMonths - 1L);
    }

    private YearMonth oldestRecomputable(long highWater) {
        return latestMonth(highWater).minusMonths(resetHorizonMonths - 1L);
    }

    private static YearMonth latestMonth(long highWater) {
        return StateKeys.utcMonth(Instant.ofEpochMilli(highWater));
    }

    private static <V> void deleteBefore(KeyValueStore<String, V> store, YearMonth month) {
        deleteRange(store, StateKeys.first(), StateKeys.monthStart(month));
    }

    /** Deletes the keys in [from, to] (both inclusive, as store ranges are). */
    private static <V> void deleteRange(KeyValueStore<String, V> store, String from, String to) {
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, V> range = store.range(from, to)) {
            while (range.hasNext()) {
                keys.add(range.next().key);
            }
        }
        keys.forEach(store::delete);
    }
}
