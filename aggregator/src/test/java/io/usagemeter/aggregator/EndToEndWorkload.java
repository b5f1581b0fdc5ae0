package io.usagemeter.aggregator;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;

/**
 * What an end-to-end test sends, in order, and what PostgreSQL must hold afterwards, computed here
 * from the contract without any of the aggregator's code.
 *
 * <p>Events run from the first day of the previous month to a few minutes ago, in event-time order
 * as apps emit them, a few arriving up to a day late (some across the month boundary). About 5 % of
 * the records sent are copies of a recent event: half with the same {@code occurred_at}, half with a
 * later one (a client that re-stamps its retry). Every copy is sent while its original is within the
 * dedupe window of the latest event time, so the contract says it counts once. Usage resets are sent
 * among the events, one of them a second, earlier reset of an already reset month (the latest wins
 * whatever the order).
 */
final class EndToEndWorkload {

    /** The aggregator's default dedupe window; copies are sent well inside it. */
    static final Duration DEDUPE_WINDOW = Duration.ofHours(48);
    private static final Duration COPY_MARGIN = Duration.ofHours(40);
    private static final Duration MAX_LATENESS = Duration.ofHours(24);
    private static final Duration MAX_RESTAMP = Duration.ofHours(4);
    private static final int PROBE_EVERY = 5_000;

    /** One record to send: a usage event or a usage reset, with the position it is sent at. */
    sealed interface Sent permits SentEvent, SentReset {
    }

    record SentEvent(UsageEvent event, boolean copy) implements Sent {
    }

    record SentReset(AdminCommand.ResetUsage reset) implements Sent {
    }

    /** {@code (user_id, event_id, occurred_at)}: the key of an api_usage row. */
    record EventKey(UUID userId, String eventId, Instant occurredAt) {
        static EventKey of(UsageEvent e) {
            return new EventKey(e.userId(), e.eventId(), e.occurredAt());
        }
    }

    /** Every contract column of a monthly_usage_summary row. */
    record SummaryRow(UUID userId, YearMonth month, long calls, long units, long successfulCalls, long failedCalls,
                      long tokens, long requestBytes, long responseBytes, long responseTimeMsSum,
                      long responseTimeMsMax, Instant firstEventAt, Instant lastEventAt,
                      Map<Provider, Long> callsByProvider) {
    }

    final List<UUID> users = new ArrayList<>();
    final List<Sent> sent = new ArrayList<>();
    /** The first copy of every event, in the order sent. */
    final List<UsageEvent> originals = new ArrayList<>();
    final List<AdminCommand.ResetUsage> resets = new ArrayList<>();
    /** Users of one event each, sent at regular intervals, whose first row shows how fresh the tables are. */
    final Set<UUID> probeUsers = new HashSet<>();
    int copiesSameTime;
    int copiesRestamped;
    int lateEvents;

    private EndToEndWorkload() {
    }

    /**
     * {@code events} distinct events of {@code userCount} users with about 5 % copies and {@code resetCount}
     * resets, between the start of the previous month and {@code now} minus a few minutes.
     */
    static EndToEndWorkload generate(long seed, int userCount, int events, int resetCount, Instant now) {
        EndToEndWorkload w = new EndToEndWorkload();
        Random random = new Random(seed);
        for (int i = 0; i < userCount; i++) {
            w.users.add(new UUID(seed, i + 1));
        }
        YearMonth current = YearMonth.from(now.atOffset(ZoneOffset.UTC));
        Instant start = current.minusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        Instant end = now.minus(Duration.ofMinutes(10)).truncatedTo(ChronoUnit.MILLIS);
        long spanMs = end.toEpochMilli() - start.toEpochMilli();

        // The resets, each placed at a random position among the events, at most a day before the event
        // time there: inside the dedupe window, so the aggregator recomputes them (an older one is refused).
        Map<Integer, List<AdminCommand.ResetUsage>> resetsAt = new HashMap<>();
        for (int i = 0; i < resetCount; i++) {
            UUID user = w.users.get(random.nextInt(w.users.size()));
            int position = random.nextInt(events);
            long base = start.toEpochMilli() + spanMs * position / events;
            Instant at = Instant.ofEpochMilli(Math.max(start.toEpochMilli(),
                    base - (long) (random.nextDouble() * Duration.ofDays(1).toMillis())));
            AdminCommand.ResetUsage reset = new AdminCommand.ResetUsage("reset-" + seed + "-" + i, user,
                    YearMonth.from(at.atOffset(ZoneOffset.UTC)), at, at, "admin@e2e.test");
            w.resets.add(reset);
            resetsAt.computeIfAbsent(position, k -> new ArrayList<>()).add(reset);
        }
        if (!w.resets.isEmpty()) {
            // A second reset of the same month, earlier than the first, sent after it: the first still wins.
            AdminCommand.ResetUsage first = w.resets.get(0);
            Instant monthStart = first.month().atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
            Instant earlier = monthStart.plusMillis((first.resetAt().toEpochMilli() - monthStart.toEpochMilli()) / 2);
            AdminCommand.ResetUsage second = new AdminCommand.ResetUsage("reset-" + seed + "-earlier", first.userId(),
                    first.month(), earlier, earlier, "admin@e2e.test");
            w.resets.add(second);
            resetsAt.computeIfAbsent(events - 1, k -> new ArrayList<>()).add(second);
        }

        long highWater = Long.MIN_VALUE;
        Provider[] providers = Provider.values();
        for (int i = 0; i < events; i++) {
            long base = start.toEpochMilli() + spanMs * i / events;
            long at = Math.max(start.toEpochMilli(), base - random.nextInt(60_000));
            boolean late = random.nextInt(100) < 3;
            if (late) {
                at = Math.max(start.toEpochMilli(), base - (long) (random.nextDouble() * MAX_LATENESS.toMillis()));
                w.lateEvents++;
            }
            UsageEvent e = new UsageEvent("evt-" + seed + "-" + i, w.users.get(random.nextInt(w.users.size())),
                    Instant.ofEpochMilli(at), providers[random.nextInt(providers.length)],
                    "/v1/endpoint/" + random.nextInt(20), random.nextBoolean() ? "POST" : "GET",
                    random.nextInt(8) == 0 ? 400 + random.nextInt(200) : 200 + random.nextInt(4),
                    random.nextInt(3_000), random.nextInt(10_000), random.nextInt(100_000), random.nextInt(4_000),
                    1 + random.nextInt(5));
            highWater = Math.max(highWater, at);
            w.sent.add(new SentEvent(e, false));
            w.originals.add(e);
            for (AdminCommand.ResetUsage r : resetsAt.getOrDefault(i, List.of())) {
                w.sent.add(new SentReset(r));
            }
            if (i % PROBE_EVERY == PROBE_EVERY / 2) {
                UUID probe = new UUID(seed, 1_000_000 + w.probeUsers.size());
                w.probeUsers.add(probe);
                UsageEvent p = new UsageEvent("probe-" + i, probe, Instant.ofEpochMilli(base), Provider.OTHER, "/probe",
                        "GET", 200, 1, 1, 1, 0, 1);
                highWater = Math.max(highWater, base);
                w.sent.add(new SentEvent(p, false));
                w.originals.add(p);
            }
            if (random.nextInt(1000) < 53) { // ~5 % of the records sent are copies
                highWater = w.sendCopy(random, highWater, end);
            }
        }
        return w;
    }

    /** Sends a copy of a recent event that is still inside the dedupe window once it is sent; returns the new high water. */
    private long sendCopy(Random random, long highWater, Instant end) {
        int recent = Math.min(originals.size(), 500);
        for (int attempt = 0; attempt < 10; attempt++) {
            UsageEvent original = originals.get(originals.size() - 1 - random.nextInt(recent));
            boolean restamp = random.nextBoolean();
            Instant at = restamp
                    ? original.occurredAt().plusMillis(1 + (long) (random.nextDouble() * MAX_RESTAMP.toMillis()))
                    : original.occurredAt();
            if (at.isAfter(end)) {
                continue; // not in the future: the broker refuses record times more than an hour ahead
            }
            long after = Math.max(highWater, at.toEpochMilli());
            if (after - original.occurredAt().toEpochMilli() > COPY_MARGIN.toMillis()) {
                continue;
            }
            sent.add(new SentEvent(withTime(original, at), true));
            if (restamp) {
                copiesRestamped++;
            } else {
                copiesSameTime++;
            }
            return after;
        }
        return highWater;
    }

    private static UsageEvent withTime(UsageEvent e, Instant at) {
        return new UsageEvent(e.eventId(), e.userId(), at, e.provider(), e.endpoint(), e.method(), e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }

    int eventRecords() {
        return eventRecordsBefore(sent.size());
    }

    /** Usage events among the first {@code position} records sent. */
    int eventRecordsBefore(int position) {
        return (int) sent.subList(0, position).stream().filter(s -> s instanceof SentEvent).count();
    }

    /** The latest reset of every reset month. */
    Map<YearMonthOfUser, Instant> latestResets() {
        Map<YearMonthOfUser, Instant> latest = new HashMap<>();
        resets.forEach(r -> latest.merge(new YearMonthOfUser(r.userId(), r.month()), r.resetAt(),
                (a, b) -> a.isAfter(b) ? a : b));
        return latest;
    }

    record YearMonthOfUser(UUID userId, YearMonth month) {
        static YearMonthOfUser of(UsageEvent e) {
            return new YearMonthOfUser(e.userId(), YearMonth.from(e.occurredAt().atOffset(ZoneOffset.UTC)));
        }
    }

    /**
     * The contract: every event counts once (its first copy), in the UTC month of its
     * {@code occurred_at}, unless it occurred at or before the latest reset of that month; a reset
     * month without any counted event still has its (empty) row.
     */
    Map<YearMonthOfUser, SummaryRow> expectedSummaries() {
        Map<YearMonthOfUser, Instant> resetAt = latestResets();
        Map<YearMonthOfUser, List<UsageEvent>> counted = new HashMap<>();
        resetAt.keySet().forEach(k -> counted.put(k, new ArrayList<>()));
        for (UsageEvent e : originals) {
            YearMonthOfUser key = YearMonthOfUser.of(e);
            Instant reset = resetAt.get(key);
            if (reset == null || e.occurredAt().isAfter(reset)) {
                counted.computeIfAbsent(key, k -> new ArrayList<>()).add(e);
            }
        }
        Map<YearMonthOfUser, SummaryRow> rows = new HashMap<>();
        counted.forEach((key, events) -> rows.put(key, summarise(key, events)));
        return rows;
    }

    private static SummaryRow summarise(YearMonthOfUser key, List<UsageEvent> events) {
        long units = 0, successful = 0, tokens = 0, requestBytes = 0, responseBytes = 0, timeSum = 0, timeMax = 0;
        Instant first = null;
        Instant last = null;
        Map<Provider, Long> byProvider = new EnumMap<>(Provider.class);
        for (UsageEvent e : events) {
            units += e.units();
            successful += e.statusCode() < 400 ? 1 : 0;
            tokens += e.tokens();
            requestBytes += e.requestBytes();
            responseBytes += e.responseBytes();
            timeSum += e.responseTimeMs();
            timeMax = Math.max(timeMax, e.responseTimeMs());
            first = first == null || e.occurredAt().isBefore(first) ? e.occurredAt() : first;
            last = last == null || e.occurredAt().isAfter(last) ? e.occurredAt() : last;
            byProvider.merge(e.provider(), 1L, Long::sum);
        }
        return new SummaryRow(key.userId(), key.month(), events.size(), units, successful, events.size() - successful,
                tokens, requestBytes, responseBytes, timeSum, timeMax, first, last, byProvider);
    }

    /**
     * api_usage: one row per event, its first copy (a later copy, even re-stamped, is the same call),
     * whether or not a reset excludes it from the month's usage: the table records calls, the summary
     * what counts against the limit.
     */
    Set<EventKey> expectedApiUsage() {
        Set<EventKey> rows = new HashSet<>();
        originals.forEach(e -> rows.add(EventKey.of(e)));
        return rows;
    }

    /** Units per user and month of the api_usage rows after the month's latest reset: must equal the summary's units. */
    static Map<YearMonthOfUser, Long> unitsAfterResets(Map<EventKey, Long> apiUsageUnits,
                                                       Map<YearMonthOfUser, Instant> resets) {
        Map<YearMonthOfUser, Long> units = new HashMap<>();
        resets.keySet().forEach(k -> units.put(k, 0L));
        apiUsageUnits.forEach((key, u) -> {
            YearMonthOfUser month = new YearMonthOfUser(key.userId(),
                    YearMonth.from(key.occurredAt().atOffset(ZoneOffset.UTC)));
            Instant reset = resets.get(month);
            if (reset == null || key.occurredAt().isAfter(reset)) {
                units.merge(month, u, Long::sum);
            }
        });
        return units;
    }
}
