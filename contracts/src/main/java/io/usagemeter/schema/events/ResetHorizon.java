package io.usagemeter.schema.events;

import io.usagemeter.schema.config.MeterEnvironment;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Optional;

/**
 * Which months a usage reset may name: the month of its reset instant and the
 * {@code months - 1} before it. The one place of that rule: the admin route and verb refuse
 * outside it, the aggregator dead-letters a reset outside it and the enforcer's PostgreSQL writer
 * does not record one, so a reset is applied everywhere or nowhere. The rule reads only the
 * command ({@code month}, {@code reset_at}), so every stage decides the same, on every replay.
 *
 * <p>Older months are not reset: their events may no longer be kept for an exact recomputation;
 * {@code meter admin replay} rebuilds such a month from the event log instead.
 *
 * @param months calendar months, the reset instant's own included ({@value #MONTHS_VAR}, default
 *     {@value #DEFAULT_MONTHS}; the aggregator keeps every counted event of these months)
 */
public record ResetHorizon(int months) {

    public static final String MONTHS_VAR = "METER_AGGREGATOR_RESET_HORIZON_MONTHS";
    public static final int DEFAULT_MONTHS = 3;
    public static final ResetHorizon DEFAULT = new ResetHorizon(DEFAULT_MONTHS);

    public ResetHorizon {
        if (months < 1) {
            throw new IllegalArgumentException(MONTHS_VAR + " must be at least 1, was " + months);
        }
    }

    /** From {@value #MONTHS_VAR}, read by the aggregator and the enforcer alike. */
    public static ResetHorizon fromEnv(Map<String, String> env) {
        return new ResetHorizon(MeterEnvironment.of(env).positiveInt(MONTHS_VAR, DEFAULT_MONTHS));
    }

    /** The oldest month a reset at {@code resetAt} may name. */
    public YearMonth oldestMonth(Instant resetAt) {
        return monthOf(resetAt).minusMonths(months - 1L);
    }

    /**
     * Why a reset of {@code month} at {@code resetAt} is refused (naming the horizon and what to do
     * instead), or empty when it is within the horizon.
     */
    public Optional<String> refusal(YearMonth month, Instant resetAt) {
        YearMonth current = monthOf(resetAt);
        if (month.isAfter(current)) {
            return Optional.of("month " + month + " has not started at the reset instant " + resetAt);
        }
        YearMonth oldest = oldestMonth(resetAt);
        if (month.isBefore(oldest)) {
            return Optional.of("month " + month + " is outside the reset horizon of " + months + " months ("
                    + oldest + " to " + current + ", " + MONTHS_VAR + "); rebuild it from the event log with "
                    + "`meter admin replay --month " + month + "` instead");
        }
        return Optional.empty();
    }

    /** {@link #refusal} of a reset command. */
    public Optional<String> refusal(AdminCommand.ResetUsage reset) {
        return refusal(reset.month(), reset.resetAt());
    }

    private static YearMonth monthOf(Instant instant) {
        return YearMonth.from(instant.atOffset(ZoneOffset.UTC));
    }
}
