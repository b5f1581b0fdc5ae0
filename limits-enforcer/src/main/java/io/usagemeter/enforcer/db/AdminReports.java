package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static io.usagemeter.schema.jooq.Tables.SUBSCRIPTION_LIMITS;
import static io.usagemeter.schema.jooq.Tables.USERS;
import static io.usagemeter.schema.jooq.Tables.USER_USAGE_OVERVIEW;

import io.usagemeter.schema.jooq.Routines;
import java.math.BigDecimal;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.SortField;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;

/**
 * What {@code meter admin users | analytics} and their routes show: users with their month, and a month's totals.
 *
 * <p>A page of users is found first, as ids, then described: only the page's rows get their columns, state,
 * percentage and latest event. The most used users of a month are read off the summaries' index
 * {@code (month, units DESC, user_id)} (V10), so the default view costs the page, not the users; every other
 * order, state filter and search ranks the matching users on narrow rows (id, units, limit) in one statement.
 */
public final class AdminReports {

    /**
     * Pages of the most used users that end within this many rows are read off the summaries' index; deeper
     * pages rank every user, which costs the same at every depth.
     */
    static final int INDEX_WALK_LIMIT = 10_000;

    private final DSLContext dsl;
    private final int indexWalkLimit;

    public AdminReports(DSLContext dsl) {
        this(dsl, INDEX_WALK_LIMIT);
    }

    AdminReports(DSLContext dsl, int indexWalkLimit) {
        this.dsl = dsl;
        this.indexWalkLimit = indexWalkLimit;
    }

    /**
     * A page of users as {@code GET /v1/admin/users} shows them.
     *
     * @param total how many users match the search and state filter, over every page
     */
    public record UserPage(YearMonth month, int page, int pageSize, long total, List<Map<String, Object>> users) {
    }

    /** The first {@code limit} users of the current month (by the database's clock), most used first. */
    public List<Map<String, Object>> users(int limit) {
        YearMonth month = dsl.select(DSL.currentOffsetDateTime()).fetchOne(0, OffsetDateTime.class)
                .atZoneSameInstant(java.time.ZoneOffset.UTC).query(YearMonth::from);
        return users(UserQuery.top(month, limit)).users();
    }

    /** The ids of one page, in the page's order, and how many users match over every page. */
    private record Ranked(List<UUID> ids, long total) {
    }

    /**
     * One page of users: each with the entitlement of their limit (plan, referrals, multiplier, bonus credits,
     * effective limit) and their use of the month ({@code current_month_*}, {@code percent_used},
     * {@code last_event_at}: their latest event of any month). The columns of {@code admin_user_overview}, for
     * the query's month, and a few more. Searching, filtering by state, ordering and paging are done in
     * PostgreSQL, over every user, ties in user id order.
     */
    public UserPage users(UserQuery query) {
        boolean plainMostUsed = query.search() == null && query.state() == null
                && query.sort() == UserQuery.Sort.USED_DESC && query.offset() + query.pageSize() <= indexWalkLimit;
        Ranked ranked = plainMostUsed ? mostUsed(query) : rankMatching(query);
        return new UserPage(query.month(), query.page(), query.pageSize(), ranked.total(), describe(ranked.ids(), query.month()));
    }

    /**
     * Every user, most used first: those with units this month from the summaries' index (by units, then id),
     * then those without (by id). Each part is walked only as far as the page.
     */
    private Ranked mostUsed(UserQuery query) {
        var u = USERS;
        var s = MONTHLY_USAGE_SUMMARY;
        // users.plan is NOT NULL and references subscription_limits: the reports' join keeps every user.
        long total = dsl.fetchCount(u);
        Condition used = s.MONTH.eq(query.month().atDay(1)).and(s.UNITS.gt(0L));
        Condition usedByAUser = used.andExists(DSL.selectOne().from(u).where(u.ID.eq(s.USER_ID)));
        List<UUID> ids = new ArrayList<>(dsl.select(s.USER_ID).from(s).where(usedByAUser)
                .orderBy(s.UNITS.desc(), s.USER_ID)
                .limit(query.pageSize()).offset(query.offset())
                .fetch(s.USER_ID));
        if (ids.size() < query.pageSize()) {
            long usersWithUse = ids.isEmpty() ? dsl.fetchCount(s, usedByAUser) : query.offset() + ids.size();
            if (usersWithUse < total) {
                ids.addAll(dsl.select(u.ID).from(u)
                        .whereNotExists(DSL.selectOne().from(s).where(s.USER_ID.eq(u.ID).and(used)))
                        .orderBy(u.ID)
                        .limit(query.pageSize() - ids.size()).offset(Math.max(0, query.offset() - usersWithUse))
                        .fetch(u.ID));
            }
        }
        return new Ranked(ids, total);
    }

    /**
     * The users matching the search and state, ranked on narrow rows (id, units of the month, effective limit),
     * with their count in the same statement.
     */
    private Ranked rankMatching(UserQuery query) {
        var u = USERS;
        var l = SUBSCRIPTION_LIMITS;
        var s = MONTHLY_USAGE_SUMMARY;
        Field<Long> used = DSL.coalesce(s.UNITS, 0L);
        Field<Long> limit = Routines.effectiveLimit(l.MONTHLY_UNITS, u.REFERRAL_COUNT, u.BONUS_CREDITS);
        Condition inState = query.state() == null ? DSL.noCondition() : Routines.usageState(used, limit).eq(query.state());
        Field<Integer> total = DSL.count().over().as("total");
        var rows = dsl.select(u.ID, total).from(u)
                .join(l).on(l.PLAN.eq(u.PLAN))
                .leftJoin(s).on(s.USER_ID.eq(u.ID).and(s.MONTH.eq(query.month().atDay(1))))
                .where(query.searchCondition()).and(inState)
                .orderBy(order(query.sort(), used, percent(used, limit)), u.ID.asc())
                .limit(query.pageSize()).offset(query.offset())
                .fetch();
        long count;
        if (!rows.isEmpty()) {
            count = rows.get(0).get(total);
        } else if (query.page() == 1) {
            count = 0;
        } else {
            count = dsl.fetchCount(dsl.select(u.ID).from(u)
                    .join(l).on(l.PLAN.eq(u.PLAN))
                    .leftJoin(s).on(s.USER_ID.eq(u.ID).and(s.MONTH.eq(query.month().atDay(1))))
                    .where(query.searchCondition()).and(inState));
        }
        return new Ranked(rows.map(r -> r.get(u.ID)), count);
    }

    /** used of limit in percent, 2 decimals; null when the limit is 0. */
    private static Field<BigDecimal> percent(Field<Long> used, Field<Long> limit) {
        return DSL.round(used.cast(SQLDataType.NUMERIC).mul(DSL.inline(100))
                .div(DSL.nullif(limit, DSL.inline(0L)).cast(SQLDataType.NUMERIC)), 2);
    }

    private static SortField<?> order(UserQuery.Sort sort, Field<Long> used, Field<BigDecimal> percent) {
        return switch (sort) {
            case USED_DESC -> used.desc();
            case USED_ASC -> used.asc();
            case PERCENT_DESC -> percent.desc().nullsLast();
            case PERCENT_ASC -> percent.asc().nullsLast();
        };
    }

    /** The rows of {@code ids} (by the primary keys), in the order of {@code ids}. */
    private List<Map<String, Object>> describe(List<UUID> ids, YearMonth month) {
        if (ids.isEmpty()) {
            return List.of();
        }
        var u = USERS;
        var l = SUBSCRIPTION_LIMITS;
        var s = MONTHLY_USAGE_SUMMARY;
        Field<Long> used = DSL.coalesce(s.UNITS, 0L);
        Field<Long> limit = Routines.effectiveLimit(l.MONTHLY_UNITS, u.REFERRAL_COUNT, u.BONUS_CREDITS);
        Map<UUID, Map<String, Object>> byId = new HashMap<>();
        for (Record row : dsl.select(u.ID.as("user_id"), u.EMAIL.as("email"), u.DISPLAY_NAME.as("display_name"),
                        u.PLAN.as("plan"), u.IS_ADMIN.as("is_admin"), l.MONTHLY_UNITS.as("plan_units"),
                        u.REFERRAL_COUNT.as("referral_count"), Routines.referralMultiplier(u.REFERRAL_COUNT).as("multiplier"),
                        u.BONUS_CREDITS.as("bonus_credits"), limit.as("effective_limit"),
                        DSL.inline(month.atDay(1)).as("current_month"),
                        DSL.coalesce(s.CALLS, 0L).as("current_month_calls"), used.as("current_month_used"),
                        u.CREATED_AT.as("created_at"), Routines.usageState(used, limit).as("current_month_state"),
                        percent(used, limit).as("percent_used"))
                .from(u)
                .join(l).on(l.PLAN.eq(u.PLAN))
                .leftJoin(s).on(s.USER_ID.eq(u.ID).and(s.MONTH.eq(month.atDay(1))))
                .where(u.ID.in(ids))
                .fetch()) {
            byId.put(row.get("user_id", UUID.class), new LinkedHashMap<>(row.intoMap()));
        }
        Map<UUID, OffsetDateTime> lastEvents = lastEvents(ids);
        List<Map<String, Object>> users = new ArrayList<>(ids.size());
        for (UUID id : ids) {
            Map<String, Object> user = byId.get(id);
            if (user != null) {
                user.put("last_event_at", lastEvents.get(id));
                users.add(user);
            }
        }
        return users;
    }

    /** Each user's latest event of any month, from their summaries (by the primary key). */
    private Map<UUID, OffsetDateTime> lastEvents(List<UUID> users) {
        var s = MONTHLY_USAGE_SUMMARY;
        return dsl.select(s.USER_ID, DSL.max(s.LAST_EVENT_AT)).from(s).where(s.USER_ID.in(users)).groupBy(s.USER_ID)
                .fetchMap(s.USER_ID, DSL.max(s.LAST_EVENT_AT));
    }

    /**
     * Totals of one month from user_usage_overview: users, calls, units used and users per state in one pass,
     * and the top users in the order of the summaries' index (which PostgreSQL walks for a small {@code top}).
     */
    public Map<String, Object> analytics(YearMonth month, int top) {
        var o = USER_USAGE_OVERVIEW;
        var inMonth = o.MONTH.eq(month.atDay(1));
        var totals = dsl.select(DSL.count(), DSL.coalesce(DSL.sum(o.CALLS), DSL.inline(BigDecimal.ZERO)),
                        DSL.coalesce(DSL.sum(o.USED), DSL.inline(BigDecimal.ZERO)),
                        DSL.count().filterWhere(o.STATE.eq("ok")), DSL.count().filterWhere(o.STATE.eq("warning")),
                        DSL.count().filterWhere(o.STATE.eq("exceeded")))
                .from(o).where(inMonth).fetchOne();
        Map<String, Integer> byState = new LinkedHashMap<>();
        byState.put("ok", totals.value4());
        byState.put("warning", totals.value5());
        byState.put("exceeded", totals.value6());
        List<Map<String, Object>> topUsers = dsl.select(o.USER_ID, o.EMAIL, o.PLAN, o.USED, o.EFFECTIVE_LIMIT,
                        o.PERCENT_USED, o.STATE)
                .from(o).where(inMonth)
                .orderBy(o.USED.desc(), o.USER_ID)
                .limit(top)
                .fetchMaps();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("month", month.toString());
        result.put("users", totals.value1());
        result.put("calls", totals.value2());
        result.put("used", totals.value3());
        result.put("users_by_state", byState);
        result.put("top_users", topUsers);
        return result;
    }
}
