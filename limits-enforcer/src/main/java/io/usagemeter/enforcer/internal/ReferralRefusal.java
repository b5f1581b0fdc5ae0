package io.usagemeter.enforcer.internal;

import java.time.Instant;
import java.util.UUID;

/**
 * A referral that gave no credit, and why: {@code self_referral}, {@code already_referred} (someone
 * else referred this user first) or {@code already_completed}. The same reasons as {@code complete_referral}.
 */
public record ReferralRefusal(String referralId, UUID referrerId, UUID referredId, String reason, Instant occurredAt) {

    public static final String SELF_REFERRAL = "self_referral";
    public static final String ALREADY_REFERRED = "already_referred";
    public static final String ALREADY_COMPLETED = "already_completed";
}
