package io.usagemeter.schema.events;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * A referral changed state. A completed referral gives the referrer bonus credits and a limit
 * multiplier; whether it is accepted (referred once, no self-referral) is decided downstream.
 * A {@code referral_id} outside the {@link Bounds} cannot be built nor read from Kafka.
 */
public record ReferralEvent(
        String referralId,
        UUID referrerId,
        UUID referredId,
        ReferralStatus status,
        Instant occurredAt) {

    public ReferralEvent {
        Objects.requireNonNull(referralId, "referral_id");
        Objects.requireNonNull(referrerId, "referrer_id");
        Objects.requireNonNull(referredId, "referred_id");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(occurredAt, "occurred_at");
        List<Violation> violations = new ArrayList<>(0);
        checkReferralId(referralId, violations);
        if (!violations.isEmpty()) {
            throw new IllegalArgumentException(violations.get(0).toString());
        }
    }

    /** {@code referral_id}: 1 to {@value Bounds#REFERRAL_ID_MAX_LENGTH} characters ({@code user_referrals}), plain text. */
    public static void checkReferralId(String referralId, List<Violation> violations) {
        Bounds.checkText("referral_id", referralId, 1, Bounds.REFERRAL_ID_MAX_LENGTH, violations);
    }

    public boolean selfReferral() {
        return referrerId.equals(referredId);
    }
}
