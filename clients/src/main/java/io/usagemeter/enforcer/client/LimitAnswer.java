package io.usagemeter.enforcer.client;

import io.usagemeter.schema.events.LimitStatus;
import java.time.Instant;
import java.time.YearMonth;
import java.util.UUID;

/**
 * The answer of {@code GET /v1/limits/{user_id}}: the user's limit this month, explained, and how
 * fresh it is ({@code as_of}: the event time it reflects; {@code stale}: served by a standby copy or
 * while the owner restores).
 *
 * <p>What a client reads. The enforcer's model of a limit is its {@code LimitState}: it writes this JSON from the
 * state (all its fields but {@code grace}, which {@code allowed} already includes) and the {@code stale} flag,
 * once per state change, and never builds this record to answer.
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
}
