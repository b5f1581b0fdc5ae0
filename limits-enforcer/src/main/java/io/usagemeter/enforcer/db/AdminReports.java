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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.jooq.Condition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.Record;
import org.jooq.SortField;
import org.jooq.Table;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;

/** What {@code meter admin users | analytics} and their routes show: users with their month, and a month's totals. */
public final class AdminReports {

    private final DSLContext dsl;

    public AdminReports(DSLContext dsl) {
        this.dsl = dsl;
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

    /**
     * One page of users: each with the entitlement of their limit (plan, referrals, multiplier, bonus credits,
     * effective limit) and their use of the month ({@code current_month_*}, {@code percent_used},
     * {@code last_event_at}: their latest event of any month). The columns of {@code admin_user_overview}, for
     * the query's month, and a few more. Searching, filtering by state, ordering and paging are done in
     * PostgreSQL, over every user; the latest event is looked up for the page's users only.
     */
    public UserPage users(UserQuery query) {
        var u = USERS;
        var l = SUBSCRIPTION_LIMITS;
        var s = MONTHLY_USAGE_SUMMARY;
        Table<?> o = dsl.select(u.ID.as("user_id"), u.EMAIL.as("email"), u.DISPLAY_NAME.as("display_name"),
                        u.PLAN.as("plan"), u.IS_ADMIN.as("is_admin"), l.MONTHLY_UNITS.as("plan_units"),
                        u.REFERRAL_COUNT.as("referral_count"), Routines.referralMultiplier(u.REFERRAL_COUNT).as("multiplier"),
                        u.BONUS_CREDITS.as("bonus_credits"),
                        Routines.effectiveLimit(l.MONTHLY_UNITS, u.REFERRAL_COUNT, u.BONUS_CREDITS).as("effective_limit"),
                        DSL.inline(query.month().atDay(1)).as("current_month"),
                        DSL.coalesce(s.CALLS, 0L).as("current_month_calls"),
                        DSL.coalesce(s.UNITS, 0L).as("current_month_used"),
                        u.CREATED_AT.as("created_at"))
                .from(u)
                .join(l).on(l.PLAN.eq(u.PLAN))
                .leftJoin(s).on(s.USER_ID.eq(u.ID).and(s.MONTH.eq(query.month().atDay(1))))
                .where(query.searchCondition())
                .asTable("o");
        Field<UUID> userId = o.field("user_id", UUID.class);
        Field<Long> used = o.field("current_month_used", Long.class);
        Field<Long> limit = o.field("effective_limit", Long.class);
        Field<String> state = Routines.usageState(used, limit);
        Field<BigDecimal> percent = DSL.round(used.cast(SQLDataType.NUMERIC).mul(DSL.inline(100))
                .div(DSL.nullif(limit, DSL.inline(0L)).cast(SQLDataType.NUMERIC)), 2);
        Condition inState = query.state() == null ? DSL.trueCondition() : state.eq(query.state());
        List<Field<?>> fields = new ArrayList<>(List.of(o.fields()));
        fields.add(state.as("current_month_state"));
        fields.add(percent.as("percent_used"));
        fields.add(DSL.count().over().as("total"));
        var rows = dsl.select(fields).from(o).where(inState)
                .orderBy(order(query.sort(), used, percent), userId)
                .limit(query.pageSize()).offset(query.offset())
                .fetch();
        long total = rows.isEmpty()
                ? (query.page() == 1 ? 0 : dsl.fetchCount(dsl.select(userId).from(o).where(inState)))
                : rows.get(0).get("total", Long.class);
        Map<UUID, OffsetDateTime> lastEvents = lastEvents(rows.map(r -> r.get(userId)));
        List<Map<String, Object>> users = new ArrayList<>(rows.size());
        for (Record row : rows) {
            Map<String, Object> user = new LinkedHashMap<>(row.intoMap());
            user.remove("total");
            user.put("last_event_at", lastEvents.get(row.get(userId)));
            users.add(user);
        }
        return new UserPage(query.month(), query.page(), query.pageSize(), total, users);
    }

    private static SortField<?> order(UserQuery.Sort sort, Field<Long> used, Field<BigDecimal> percent) {
        return switch (sort) {
            case USED_DESC -> used.desc();
            case USED_ASC -> used.asc();
            case PERCENT_DESC -> percent.desc().nullsLast();
            case PERCENT_ASC -> percent.asc().nullsLast();
        };
    }

    /** Each user's latest event of any month, from their summaries (by the primary key). */
    private Map<UUID, OffsetDateTime> lastEvents(List<UUID> users) {
        if (users.isEmpty()) {
            return Map.of();
        }
        var s = MONTHLY_USAGE_SUMMARY;
        return dsl.select(s.USER_ID, DSL.max(s.LAST_EVENT_AT)).from(s).where(s.USER_ID.in(users)).groupBy(s.USER_ID)
                .fetchMap(s.USER_ID, DSL.max(s.LAST_EVENT_AT));
    }

    /** Totals of one month from user_usage_overview: users, calls, units used, users per state, the top users. */
    public Map<String, Object> analytics(YearMonth month, int top) {
        var inMonth = USER_USAGE_OVERVIEW.MONTH.eq(month.atDay(1));
        var totals = dsl.select(DSL.count(), DSL.coalesce(DSL.sum(USER_USAGE_OVERVIEW.CALLS), DSL.inline(BigDecimal.ZERO)),
                        DSL.coalesce(DSL.sum(USER_USAGE_OVERVIEW.USED), DSL.inline(BigDecimal.ZERO)))
                .from(USER_USAGE_OVERVIEW).where(inMonth).fetchOne();
        Map<String, Integer> byState = new LinkedHashMap<>(Map.of("ok", 0, "warning", 0, "exceeded", 0));
        dsl.select(USER_USAGE_OVERVIEW.STATE, DSL.count()).from(USER_USAGE_OVERVIEW).where(inMonth)
                .groupBy(USER_USAGE_OVERVIEW.STATE)
                .forEach(r -> byState.put(r.value1(), r.value2()));
        List<Map<String, Object>> topUsers = dsl.select(USER_USAGE_OVERVIEW.USER_ID, USER_USAGE_OVERVIEW.EMAIL,
                        USER_USAGE_OVERVIEW.PLAN, USER_USAGE_OVERVIEW.USED, USER_USAGE_OVERVIEW.EFFECTIVE_LIMIT,
                        USER_USAGE_OVERVIEW.PERCENT_USED, USER_USAGE_OVERVIEW.STATE)
                .from(USER_USAGE_OVERVIEW).where(inMonth)
                .orderBy(USER_USAGE_OVERVIEW.USED.desc(), USER_USAGE_OVERVIEW.USER_ID)
                .limit(top)
                .fetchMaps();
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("month", month.toString());
        result.put("users", totals == null ? 0 : totals.value1());
        result.put("calls", totals == null ? 0 : totals.value2());
        result.put("used", totals == null ? 0 : totals.value3());
        result.put("users_by_state", byState);
        result.put("top_users", topUsers);
        return result;
    }
}
