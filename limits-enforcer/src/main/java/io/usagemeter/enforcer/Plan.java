package io.usagemeter.enforcer;

import java.util.Objects;

/** A row of {@code subscription_limits}: the plan's monthly units before referrals and bonus credits. */
public record Plan(String plan, long monthlyUnits) {

    /** Every user without an assignment is on this plan (the platform is free). */
    public static final String DEFAULT_PLAN = "free";

    public Plan {
        Objects.requireNonNull(plan, "plan");
        if (monthlyUnits < 0) {
            throw new IllegalArgumentException("monthly units must not be negative, was " + monthlyUnits);
        }
    }
}
