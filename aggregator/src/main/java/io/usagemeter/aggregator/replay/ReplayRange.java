package io.usagemeter.aggregator.replay;

import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Objects;

/**
 * The whole calendar months (UTC) a replay rebuilds. A monthly summary cannot be rebuilt from the
 * middle of its month, so {@code --from T} rebuilds every month from the one holding T up to the
 * current one.
 */
public record ReplayRange(YearMonth firstMonth, YearMonth lastMonth) {

    public ReplayRange {
        Objects.requireNonNull(firstMonth, "firstMonth");
        Objects.requireNonNull(lastMonth, "lastMonth");
        if (lastMonth.isBefore(firstMonth)) {
            throw new IllegalArgumentException("a replay range ends (" + lastMonth + ") before it starts (" + firstMonth + ")");
        }
    }

    public static ReplayRange month(YearMonth month) {
        return new ReplayRange(month, month);
    }

    /** Every month from the one holding {@code from} to the one holding {@code now}. */
    public static ReplayRange from(Instant from, Instant now) {
        YearMonth first = YearMonth.from(from.atOffset(ZoneOffset.UTC));
        YearMonth current = YearMonth.from(now.atOffset(ZoneOffset.UTC));
        if (first.isAfter(current)) {
            throw new IllegalArgumentException("cannot replay from " + from + ": it is in the future");
        }
        return new ReplayRange(first, current);
    }

    public boolean contains(YearMonth month) {
        return !month.isBefore(firstMonth) && !month.isAfter(lastMonth);
    }

    /** The first instant of the range. */
    public Instant start() {
        return firstMonth.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
    }

    /**
     * The earliest event time the rebuild must read: the range start minus the dedupe window, so a
     * resend of an event seen just before the month is recognised exactly as the live aggregator did.
     */
    public Instant eventsNeededFrom(Duration dedupeWindow) {
        return start().minus(dedupeWindow);
    }

    @Override
    public String toString() {
        return firstMonth.equals(lastMonth) ? firstMonth.toString() : firstMonth + ".." + lastMonth;
    }
}
