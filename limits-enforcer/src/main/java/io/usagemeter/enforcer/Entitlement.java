package io.usagemeter.enforcer;

import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.events.Saturating;
import java.util.Objects;

/**
 * What a user is entitled to, independent of the month: the plan, completed referrals made, and
 * bonus credits (from referrals and from admins), which add to the allowance every month.
 * Credits stop at {@link Bounds#MAX_BONUS_CREDITS} and referrals at {@link Integer#MAX_VALUE}:
 * a change never throws, whatever a command carries.
 */
public record Entitlement(String plan, int referralCount, long bonusCredits) {

    public static final Entitlement DEFAULT = new Entitlement(Plan.DEFAULT_PLAN, 0, 0);

    public Entitlement {
        Objects.requireNonNull(plan, "plan");
        if (referralCount < 0 || bonusCredits < 0) {
            throw new IllegalArgumentException("referral count and bonus credits must not be negative");
        }
    }

    public Entitlement withPlan(String newPlan) {
        return new Entitlement(newPlan, referralCount, bonusCredits);
    }

    public Entitlement withBonusCredits(long amount) {
        return new Entitlement(plan, referralCount,
                Math.max(Saturating.addAtMost(bonusCredits, amount, Bounds.MAX_BONUS_CREDITS), 0));
    }

    /** One more completed referral: +{@value LimitRules#BONUS_CREDITS_PER_REFERRAL} credits, +2 % multiplier. */
    public Entitlement withCompletedReferral() {
        return new Entitlement(plan, referralCount == Integer.MAX_VALUE ? referralCount : referralCount + 1,
                Saturating.addAtMost(bonusCredits, LimitRules.BONUS_CREDITS_PER_REFERRAL, Bounds.MAX_BONUS_CREDITS));
    }
}
