package io.usagemeter.enforcer;

import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.Saturating;
import io.usagemeter.schema.events.LimitStatus;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.UUID;

/**
 * The limit rules of the product, in integer arithmetic so that no limit is ever off by one from
 * binary rounding: {@code effective_limit = plan_units * (100 + min(2 * referrals, 200)) / 100
 * (floored) + bonus_credits}; the same formula as the database's {@code effective_limit}.
 * Every step saturates at {@link Long#MAX_VALUE} instead of wrapping or throwing, so no plan or
 * credit value, however large, can make a limit negative or stop a stream thread; a negative
 * {@code used} (never produced by the aggregator) counts as 0.
 */
public final class LimitRules {

    public static final int BONUS_CREDITS_PER_REFERRAL = 10;
    public static final int MULTIPLIER_PERCENT_PER_REFERRAL = 2;
    public static final int MAX_MULTIPLIER_PERCENT = 200;

    private LimitRules() {
    }

    /** +2 % per completed referral, capped at +200 %. */
    public static int multiplierPercent(int referralCount) {
        return (int) Math.min((long) Math.max(referralCount, 0) * MULTIPLIER_PERCENT_PER_REFERRAL, MAX_MULTIPLIER_PERCENT);
    }

    public static long effectiveLimit(long planUnits, int referralCount, long bonusCredits) {
        long percent = 100L + multiplierPercent(referralCount);
        long units = Math.max(planUnits, 0);
        // floor(units * percent / 100) without overflow: units = 100 q + r.
        long boosted = Saturating.add(Saturating.multiply(units / 100, percent), units % 100 * percent / 100);
        return Saturating.add(boosted, Math.max(bonusCredits, 0));
    }

    /** What is left of the limit, never negative. */
    public static long remaining(long used, long effectiveLimit) {
        return Math.max(Saturating.subtract(effectiveLimit, Math.max(used, 0)), 0);
    }

    /** ok below 80 %, warning from 80 %, exceeded at 100 % (as the database's {@code usage_state}). */
    public static LimitStatus status(long used, long effectiveLimit) {
        if (used >= effectiveLimit) {
            return LimitStatus.EXCEEDED;
        }
        // used / limit >= 0.8  <=>  5 * used >= 4 * limit, without division.
        if (BigDecimal.valueOf(used).multiply(BigDecimal.valueOf(5))
                .compareTo(BigDecimal.valueOf(effectiveLimit).multiply(BigDecimal.valueOf(4))) >= 0) {
            return LimitStatus.WARNING;
        }
        return LimitStatus.OK;
    }

    /** Calls are allowed while usage is below the limit stretched by the grace fraction. */
    public static boolean allowed(long used, long effectiveLimit, BigDecimal grace) {
        BigDecimal ceiling = BigDecimal.valueOf(effectiveLimit).multiply(BigDecimal.ONE.add(grace));
        return BigDecimal.valueOf(used).compareTo(ceiling) < 0;
    }

    /** The first instant of the month after {@code month}, UTC. */
    public static Instant resetsAt(YearMonth month) {
        return month.plusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
    }

    public static YearMonth monthOf(Instant instant) {
        return YearMonth.from(instant.atOffset(ZoneOffset.UTC));
    }

    /** The explained limit of {@code user} for {@code month}. */
    public static LimitState explain(UUID user, YearMonth month, Entitlement entitlement, long planUnits,
                                     long used, BigDecimal grace, Instant asOf) {
        int referrals = entitlement.referralCount();
        long limit = effectiveLimit(planUnits, referrals, entitlement.bonusCredits());
        long counted = Math.max(used, 0);
        return new LimitState(user, month, entitlement.plan(), planUnits, referrals,
                multiplierPercent(referrals) / 100.0, entitlement.bonusCredits(), limit, counted,
                remaining(counted, limit), status(counted, limit), allowed(counted, limit, grace),
                grace.doubleValue(), resetsAt(month), asOf);
    }
}
