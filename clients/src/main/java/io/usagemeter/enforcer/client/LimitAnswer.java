package io.usagemeter.enforcer.client;

import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import java.time.Instant;
import java.time.YearMonth;
import java.util.UUID;

/**
 * The answer of {@code GET /v1/limits/{user_id}}: the user's limit this month, explained, and how
 * fresh it is ({@code as_of}: the event time it reflects; {@code stale}: served by a standby copy or
 * while the owner restores).
 */
public record LimitAnswer(
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
        Instant resetsAt,
        Instant asOf,
        boolean stale) {

    /** The answer of a stored state; the state's {@code grace} is not part of the answer (it is in {@code allowed}). */
    public static LimitAnswer of(LimitState s, boolean stale) {
        return new LimitAnswer(s.userId(), s.month(), s.plan(), s.planUnits(), s.referralCount(), s.multiplier(),
                s.bonusCredits(), s.effectiveLimit(), s.used(), s.remaining(), s.state(), s.allowed(),
                s.resetsAt(), s.asOf(), stale);
    }

    /** This answer with {@code stale} set as given. */
    public LimitAnswer withStale(boolean isStale) {
        return isStale == stale ? this : new LimitAnswer(userId, month, plan, planUnits, referralCount, multiplier,
                bonusCredits, effectiveLimit, used, remaining, state, allowed, resetsAt, asOf, isStale);
    }
}
