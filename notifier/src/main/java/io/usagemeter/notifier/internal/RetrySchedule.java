package io.usagemeter.notifier.internal;

import io.usagemeter.schema.config.MeterEnvironment;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The waits between the attempts of one delivery: the first attempt is immediate, the n-th retry
 * waits the n-th duration less up to 20 % (jitter, so receivers that failed together are not retried
 * together), and after the last one the delivery is failed and waits for a retry by hand.
 *
 * <p>The default roughly doubles from 5 s and ends 23 h 43 min after the first attempt, within the
 * 24 h of the Standard Webhooks guidance; {@code METER_WEBHOOK_RETRY_SCHEDULE} shortens it for dev
 * and tests (e.g. {@code 100ms,200ms}).
 */
public record RetrySchedule(List<Duration> waits) {

    // Before DEFAULT: static fields initialise in order, and DEFAULT's constructor reads this one.
    private static final Duration LONGEST = Duration.ofHours(24);
    private static final double JITTER = 0.2;

    public static final RetrySchedule DEFAULT = new RetrySchedule(List.of(
            Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofMinutes(2), Duration.ofMinutes(10),
            Duration.ofMinutes(30), Duration.ofHours(1), Duration.ofHours(2), Duration.ofHours(4),
            Duration.ofHours(8), Duration.ofHours(8)));

    public RetrySchedule {
        waits = List.copyOf(waits);
        Duration total = waits.stream().reduce(Duration.ZERO, Duration::plus);
        if (total.compareTo(LONGEST) > 0) {
            throw new IllegalArgumentException("the retry schedule must end within 24 h, was " + total);
        }
    }

    /** The schedule in {@code value} (comma-separated durations such as {@code 5s,30s,2m}; empty: no retries). */
    public static RetrySchedule parse(String variable, String value) {
        if (value == null) {
            return DEFAULT;
        }
        List<Duration> waits = new ArrayList<>();
        for (String part : value.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            try {
                Duration d = MeterEnvironment.parseDuration(part);
                if (d.isNegative() || d.isZero()) {
                    throw new DateTimeParseException("not positive", part, 0);
                }
                waits.add(d);
            } catch (DateTimeParseException | ArithmeticException e) {
                throw new IllegalArgumentException(variable + " must be comma-separated positive durations such as"
                        + " 5s,30s,2m,1h, was '" + value + "'");
            }
        }
        try {
            return new RetrySchedule(waits);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(variable + ": " + e.getMessage());
        }
    }

    /** How many attempts one round makes: the first and one per wait. */
    public int attempts() {
        return waits.size() + 1;
    }

    /** The wait before the next attempt after {@code attemptsMade} failed attempts of this round; empty when out of retries. */
    public Optional<Duration> waitAfter(int attemptsMade) {
        if (attemptsMade < 1 || attemptsMade > waits.size()) {
            return Optional.empty();
        }
        Duration wait = waits.get(attemptsMade - 1);
        double factor = 1.0 - JITTER * ThreadLocalRandom.current().nextDouble();
        return Optional.of(Duration.ofNanos((long) (wait.toNanos() * factor)));
    }

    @Override
    public String toString() {
        return waits.toString();
    }
}
