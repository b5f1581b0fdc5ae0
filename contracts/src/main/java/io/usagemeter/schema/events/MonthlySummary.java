package io.usagemeter.schema.events;

import java.time.Instant;
import java.time.YearMonth;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * A user's usage in one calendar month (UTC), as computed by the stream.
 *
 * <p>{@code callsByProvider} is kept in the enum's order so that equal summaries serialise to
 * equal bytes (a replay of unchanged input then writes identical records).
 *
 * @param firstEventAt earliest {@code occurred_at} counted, {@code null} while no call is counted
 * @param lastEventAt latest {@code occurred_at} counted, {@code null} while no call is counted
 */
public record MonthlySummary(
        UUID userId,
        YearMonth month,
        long calls,
        long units,
        long successfulCalls,
        long failedCalls,
        long tokens,
        long requestBytes,
        long responseBytes,
        long responseTimeMsSum,
        long responseTimeMsMax,
        Instant firstEventAt,
        Instant lastEventAt,
        Map<Provider, Long> callsByProvider) {

    public MonthlySummary {
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(month, "month");
        Objects.requireNonNull(callsByProvider, "calls_by_provider");
        EnumMap<Provider, Long> byProvider = new EnumMap<>(Provider.class);
        callsByProvider.forEach((provider, count) -> byProvider.put(
                Objects.requireNonNull(provider, "calls_by_provider key"),
                Objects.requireNonNull(count, "calls_by_provider value")));
        callsByProvider = Collections.unmodifiableMap(byProvider);
    }

    /** Nothing counted yet for {@code key}. */
    public static MonthlySummary empty(MonthlySummaryKey key) {
        return new MonthlySummary(key.userId(), key.month(), 0, 0, 0, 0, 0, 0, 0, 0, 0, null, null, Map.of());
    }

    /**
     * Why this summary cannot be a user's usage (a negative total, more successful and failed calls
     * than calls, first after last), or {@code null} when it can: summaries read from Kafka are
     * checked with this before they count against a limit or reach PostgreSQL's CHECKs.
     */
    public String inconsistency() {
        long[] totals = {calls, units, successfulCalls, failedCalls, tokens, requestBytes, responseBytes,
                responseTimeMsSum, responseTimeMsMax};
        for (long total : totals) {
            if (total < 0) {
                return "summary of " + key() + " has a negative total: " + this;
            }
        }
        if (Saturating.add(successfulCalls, failedCalls) != calls) {
            return "summary of " + key() + " has " + successfulCalls + " successful and " + failedCalls
                    + " failed calls but " + calls + " calls";
        }
        for (Long count : callsByProvider.values()) {
            if (count < 0) {
                return "summary of " + key() + " has a negative call count per provider: " + callsByProvider;
            }
        }
        if (firstEventAt != null && lastEventAt != null && firstEventAt.isAfter(lastEventAt)) {
            return "summary of " + key() + " has its first event after its last";
        }
        return null;
    }

    public MonthlySummaryKey key() {
        return new MonthlySummaryKey(userId, month);
    }

    /**
     * This summary with {@code event} counted; the event must belong to this user and month. Every
     * total saturates at {@link Long#MAX_VALUE} instead of wrapping ({@link Saturating}).
     */
    public MonthlySummary plus(UsageEvent event) {
        if (!event.userId().equals(userId) || !event.month().equals(month)) {
            throw new IllegalArgumentException("event " + event.eventId() + " belongs to "
                    + MonthlySummaryKey.of(event) + ", not to " + key());
        }
        EnumMap<Provider, Long> byProvider = new EnumMap<>(Provider.class);
        byProvider.putAll(callsByProvider);
        byProvider.merge(event.provider(), 1L, Saturating::add);
        Instant at = event.occurredAt();
        return new MonthlySummary(userId, month,
                Saturating.add(calls, 1),
                Saturating.add(units, event.units()),
                Saturating.add(successfulCalls, event.successful() ? 1 : 0),
                Saturating.add(failedCalls, event.successful() ? 0 : 1),
                Saturating.add(tokens, event.tokens()),
                Saturating.add(requestBytes, event.requestBytes()),
                Saturating.add(responseBytes, event.responseBytes()),
                Saturating.add(responseTimeMsSum, event.responseTimeMs()),
                Math.max(responseTimeMsMax, event.responseTimeMs()),
                firstEventAt == null || at.isBefore(firstEventAt) ? at : firstEventAt,
                lastEventAt == null || at.isAfter(lastEventAt) ? at : lastEventAt,
                byProvider);
    }
}
