package io.usagemeter.enforcer;

import java.util.Objects;

/**
 * What a user is entitled to, independent of the month: the plan, completed referrals made, and
 * bonus credits (from referrals and from admins), which add to the allowance every month.
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
        return new Entitlement(plan, referralCount, Math.addExact(bonusCredits, amount));
    }

    /** One more completed referral: +{@value LimitRules#BONUS_CREDITS_PER_REFERRAL} credits, +2 % multiplier. */
    public Entitlement withCompletedReferral() {
        return new Entitlement(plan, referralCount + 1,
                Math.addExact(bonusCredits, LimitRules.BONUS_CREDITS_PER_REFERRAL));
    }
}
