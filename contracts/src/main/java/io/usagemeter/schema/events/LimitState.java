package io.usagemeter.schema.events;

import java.time.Instant;
import java.time.YearMonth;
import java.util.Objects;
import java.util.UUID;

/**
 * A user's limit for one month, explained: how the effective limit is made up
 * ({@code floor(plan_units * (1 + multiplier)) + bonus_credits}), how much is used, and whether
 * calls are still allowed (grace included).
 *
 * @param multiplier the referral multiplier, 0.0 (no referrals) to {@value #MAX_MULTIPLIER} (+200 %)
 * @param grace how far usage may run over the limit before calls are refused, as a fraction (0.1 = 10 %)
 * @param resetsAt when the month ends (UTC) and usage starts again from zero
 * @param asOf the event time this state reflects
 */
public record LimitState(
        UUID userId,
        YearMonth month,
        String plan,
        long planUnits,
        int referralCount,
        double multiplier,
        long bonusCredits,
        long effectiveLimit,
        long used,
        long remaining,
        LimitStatus state,
        boolean allowed,
        double grace,
        Instant resetsAt,
        Instant asOf) {

    public static final double MAX_MULTIPLIER = 2.0;

    public LimitState {
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(month, "month");
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(resetsAt, "resets_at");
        Objects.requireNonNull(asOf, "as_of");
        if (!(multiplier >= 0.0 && multiplier <= MAX_MULTIPLIER)) {
            throw new IllegalArgumentException("multiplier must be within 0.0 and " + MAX_MULTIPLIER + ", was " + multiplier);
        }
        if (!(grace >= 0.0)) {
            throw new IllegalArgumentException("grace must not be negative, was " + grace);
        }
    }
}
