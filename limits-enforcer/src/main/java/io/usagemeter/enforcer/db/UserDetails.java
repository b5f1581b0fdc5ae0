package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.API_USAGE;
import static io.usagemeter.schema.jooq.Tables.USAGE_RESETS;
import static io.usagemeter.schema.jooq.Tables.USERS;
import static io.usagemeter.schema.jooq.Tables.USER_REFERRALS;

import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.impl.DSL;

/** One user as the admin panel shows them, beside their limit: who they are, their referrals, their month by day. */
public final class UserDetails {

    private final DSLContext dsl;

    public UserDetails(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** A referral the user made, or the one that brought them (with the other user's e-mail, if known). */
    public record Referral(String referralId, UUID referrerId, UUID referredId, String otherEmail, String status,
                           OffsetDateTime createdAt, OffsetDateTime completedAt) {
    }

    /**
     * The user's row and referrals.
     *
     * @param referredBy the referral that brought them, or null
     * @param referralsMade the referrals they made, newest first
     */
    public record Profile(UUID userId, String email, String displayName, String plan, int referralCount,
                          long bonusCredits, String referralCode, OffsetDateTime createdAt, Referral referredBy,
                          List<Referral> referralsMade) {
    }

    /** One UTC day of a user's month: the events recorded, and the units that count after the month's latest reset. */
    public record Day(LocalDate day, long calls, long units, long countedUnits) {
    }

    /**
     * A user's month by day, every day from the first of the month to its last (or to {@code today}),
     * including days without events.
     *
     * @param resetAt the month's latest usage reset: only events after it count, or null
     */
    public record MonthByDay(UUID userId, YearMonth month, OffsetDateTime resetAt, List<Day> days) {
    }

    /** The user's row in PostgreSQL, with their referrals; empty when PostgreSQL has never seen them. */
    public Optional<Profile> profile(UUID user) {
        var u = USERS;
        var row = dsl.select(u.ID, u.EMAIL, u.DISPLAY_NAME, u.PLAN, u.REFERRAL_COUNT, u.BONUS_CREDITS, u.REFERRAL_CODE,
                u.CREATED_AT).from(u).where(u.ID.eq(user)).fetchOne();
        if (row == null) {
            return Optional.empty();
        }
        var r = USER_REFERRALS;
        var other = USERS.as("other");
        List<Referral> made = dsl.select(r.REFERRAL_ID, r.REFERRER_ID, r.REFERRED_ID, other.EMAIL, r.STATUS, r.CREATED_AT,
                        r.COMPLETED_AT)
                .from(r).leftJoin(other).on(other.ID.eq(r.REFERRED_ID))
                .where(r.REFERRER_ID.eq(user))
                .orderBy(r.CREATED_AT.desc(), r.ID.desc())
                .fetch(x -> new Referral(x.value1(), x.value2(), x.value3(), x.value4(), x.value5(), x.value6(), x.value7()));
        Referral referredBy = dsl.select(r.REFERRAL_ID, r.REFERRER_ID, r.REFERRED_ID, other.EMAIL, r.STATUS, r.CREATED_AT,
                        r.COMPLETED_AT)
                .from(r).leftJoin(other).on(other.ID.eq(r.REFERRER_ID))
                .where(r.REFERRED_ID.eq(user))
                .fetchOptional(x -> new Referral(x.value1(), x.value2(), x.value3(), x.value4(), x.value5(), x.value6(),
                        x.value7()))
                .orElse(null);
        return Optional.of(new Profile(row.value1(), row.value2(), row.value3(), row.value4(), row.value5(), row.value6(),
                row.value7(), row.value8(), referredBy, made));
    }

    /**
     * The user's events of {@code month} per UTC day from {@code api_usage}, which keeps the events a reset
     * excludes: {@code units} counts them all, {@code counted_units} only those after the latest reset.
     */
    public MonthByDay monthByDay(UUID user, YearMonth month, LocalDate today) {
        OffsetDateTime from = month.atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC);
        OffsetDateTime to = month.plusMonths(1).atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC);
        var resets = USAGE_RESETS;
        OffsetDateTime resetAt = dsl.select(DSL.max(resets.RESET_AT)).from(resets)
                .where(resets.USER_ID.eq(user).and(resets.MONTH.eq(month.atDay(1)))).fetchOne(0, OffsetDateTime.class);
        var a = API_USAGE;
        Field<LocalDate> day = DailyAnalytics.utcDay(a.OCCURRED_AT);
        Field<Long> units = DSL.sum(a.UNITS).cast(Long.class);
        Field<Long> counted = resetAt == null ? units : DSL.sum(a.UNITS).filterWhere(a.OCCURRED_AT.gt(resetAt)).cast(Long.class);
        Map<LocalDate, Day> byDay = new LinkedHashMap<>();
        dsl.select(day, DSL.count(), units, counted).from(a)
                .where(a.USER_ID.eq(user).and(a.OCCURRED_AT.ge(from)).and(a.OCCURRED_AT.lt(to)))
                .groupBy(day)
                .forEach(x -> byDay.put(x.value1(), new Day(x.value1(), x.value2(), orZero(x.value3()), orZero(x.value4()))));
        LocalDate last = month.atEndOfMonth().isAfter(today) ? today : month.atEndOfMonth();
        List<Day> days = new ArrayList<>();
        for (LocalDate d = month.atDay(1); !d.isAfter(last); d = d.plusDays(1)) {
            days.add(byDay.getOrDefault(d, new Day(d, 0, 0, 0)));
        }
        return new MonthByDay(user, month, resetAt, days);
    }

    private static long orZero(Long value) {
        return value == null ? 0 : value;
    }
}
