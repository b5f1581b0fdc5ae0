package io.usagemeter.aggregator;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The test-side oracle of the monthly usage rules, written from the contract
 * ({@code docs/product.md}, "Monthly summary", "Dedupe", "Usage reset") and from nothing in
 * {@code src/main}: it keeps every counted event and computes each summary from scratch at the end,
 * with its own arithmetic. Tests compare what production publishes and stores with it.
 *
 * <p>The rules it holds:
 * <ul>
 *   <li>An event counts in the UTC calendar month of its {@code occurred_at}, under its user.</li>
 *   <li>A {@code (user_id, event_id)} counts once: the copy the caller declares counted
 *       ({@link #count}) is the one summed; a caller that wants the window's "counts again after the
 *       window" declares the later copy counted too. The caller decides which copies are
 *       duplicates because only it knows whether a resend is inside the window; the reference
 *       never consults production's notion of time.</li>
 *   <li>After resets of a user's month, the month counts only events with {@code occurred_at}
 *       after the latest reset instant; a month with a reset and no such event is an empty summary.
 *       A reset of a month that has not started at its instant, or that is more than
 *       {@code horizonMonths - 1} months before it, is refused (the admin reset horizon) and changes
 *       nothing.</li>
 * </ul>
 */
final class UsageReference {

    private final int horizonMonths;
    private final List<UsageEvent> counted = new ArrayList<>();
    private final Set<String> countedIds = new HashSet<>();
    private final Map<MonthlySummaryKey, Instant> latestReset = new HashMap<>();

    UsageReference(int horizonMonths) {
        this.horizonMonths = horizonMonths;
    }

    /**
     * Counts {@code e} as a new occurrence if its {@code (user, event_id)} was never counted;
     * otherwise it is a duplicate and nothing changes.
     *
     * @return whether it was counted
     */
    boolean countOnce(UsageEvent e) {
        if (!countedIds.add(e.userId() + "/" + e.eventId())) {
            return false;
        }
        counted.add(e);
        return true;
    }

    /** Counts {@code e} whatever was counted before under its id: a copy sent again after the dedupe window. */
    void count(UsageEvent e) {
        countedIds.add(e.userId() + "/" + e.eventId());
        counted.add(e);
    }

    /** A usage reset of {@code user}'s {@code month} at {@code resetAt}; returns whether it is applied. */
    boolean reset(UUID user, YearMonth month, Instant resetAt) {
        YearMonth resetMonth = YearMonth.from(resetAt.atOffset(ZoneOffset.UTC));
        if (month.isAfter(resetMonth) || month.isBefore(resetMonth.minusMonths(horizonMonths - 1L))) {
            return false;
        }
        latestReset.merge(new MonthlySummaryKey(user, month), resetAt, (a, b) -> a.isAfter(b) ? a : b);
        return true;
    }

    /** Every user's month that has a counted event or an applied reset, summed from scratch. */
    Map<MonthlySummaryKey, MonthlySummary> summaries() {
        Map<MonthlySummaryKey, List<UsageEvent>> byMonth = new HashMap<>();
        latestReset.keySet().forEach(key -> byMonth.put(key, new ArrayList<>()));
        for (UsageEvent e : counted) {
            MonthlySummaryKey key = new MonthlySummaryKey(e.userId(), YearMonth.from(e.occurredAt().atOffset(ZoneOffset.UTC)));
            Instant reset = latestReset.get(key);
            if (reset == null || e.occurredAt().isAfter(reset)) {
                byMonth.computeIfAbsent(key, k -> new ArrayList<>()).add(e);
            }
        }
        Map<MonthlySummaryKey, MonthlySummary> result = new HashMap<>();
        byMonth.forEach((key, events) -> result.put(key, sum(key, events)));
        return result;
    }

    private static MonthlySummary sum(MonthlySummaryKey key, List<UsageEvent> events) {
        long calls = 0;
        long units = 0;
        long successful = 0;
        long failed = 0;
        long tokens = 0;
        long requestBytes = 0;
        long responseBytes = 0;
        long responseTimeSum = 0;
        long responseTimeMax = 0;
        Instant first = null;
        Instant last = null;
        Map<Provider, Long> byProvider = new EnumMap<>(Provider.class);
        for (UsageEvent e : events) {
            calls++;
            units += e.units();
            if (e.statusCode() < 400) {
                successful++;
            } else {
                failed++;
            }
            tokens += e.tokens();
            requestBytes += e.requestBytes();
            responseBytes += e.responseBytes();
            responseTimeSum += e.responseTimeMs();
            responseTimeMax = Math.max(responseTimeMax, e.responseTimeMs());
            first = first == null || e.occurredAt().isBefore(first) ? e.occurredAt() : first;
            last = last == null || e.occurredAt().isAfter(last) ? e.occurredAt() : last;
            byProvider.merge(e.provider(), 1L, Long::sum);
        }
        return new MonthlySummary(key.userId(), key.month(), calls, units, successful, failed, tokens, requestBytes,
                responseBytes, responseTimeSum, responseTimeMax, first, last, byProvider);
    }
}
