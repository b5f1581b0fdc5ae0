package io.usagemeter.schema.events;

import java.time.Instant;
import java.util.Objects;
import java.util.UUID;

/**
 * A referral changed state. A completed referral gives the referrer bonus credits and a limit
 * multiplier; whether it is accepted (referred once, no self-referral) is decided downstream.
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
    }

    public boolean selfReferral() {
        return referrerId.equals(referredId);
    }
}
