package io.usagemeter.embedded;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;

/**
 * The one clock of a test that depends on the current month, and that month: the services under
 * test get {@link #clock()}, the test's events and expectations use {@link #month()} and
 * {@link #now()}, so a run that crosses midnight at the end of a month cannot see two months.
 *
 * <p>The clock ticks (timeouts and commit intervals still pass) from an anchor that is the real
 * time, moved back when the real time is near a month's edge: it is at least {@link #MARGIN} before
 * the end of its month and at least an hour after its start, so a test of less than
 * {@link #MARGIN} stays in one month and may send events up to an hour into it. The clock never runs
 * ahead of the real time, so the broker (which refuses record times far in its future) and ingest's
 * 5-minute bound accept what it stamps.
 *
 * <p>{@link #offset()} is how far the clock is moved from the real one: a child JVM that moves its own
 * real clock by it ({@code Clock.offset(Clock.systemUTC(), offset)}) has the same clock as the test.
 */
public record TestMonth(YearMonth month, Clock clock, Duration offset) {

    /** How long after the anchor the clock stays in {@link #month()}. */
    public static final Duration MARGIN = Duration.ofHours(2);
    private static final Duration AFTER_START = Duration.ofHours(1);

    /** Anchored at the real time now. */
    public static TestMonth current() {
        return around(Clock.systemUTC());
    }

    /** Anchored at {@code real}'s time now; the clock ticks with {@code real}. */
    public static TestMonth around(Clock real) {
        Instant now = real.instant();
        YearMonth month = YearMonth.from(now.atOffset(ZoneOffset.UTC));
        Instant start = month.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        Instant end = month.plusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        Instant anchor = now;
        if (now.isBefore(start.plus(AFTER_START))) {
            anchor = start.minus(MARGIN);
            month = month.minusMonths(1);
        } else if (now.isAfter(end.minus(MARGIN))) {
            anchor = end.minus(MARGIN);
        }
        Duration offset = Duration.between(now, anchor);
        return new TestMonth(month, Clock.offset(real, offset), offset);
    }

    /** The test's current instant. */
    public Instant now() {
        return clock.instant();
    }

    /** The first instant of {@link #month()}. */
    public Instant monthStart() {
        return month.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
    }
}
