package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.ADMIN_USER_OVERVIEW;
import static io.usagemeter.schema.jooq.Tables.USER_USAGE_OVERVIEW;

import java.time.YearMonth;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.impl.DSL;

/** What {@code meter admin users | analytics} and their routes show, read from the V4 overview views. */
public final class AdminReports {

    private final DSLContext dsl;

    public AdminReports(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** One row per user (admin_user_overview), most used first this month. */
    public List<Map<String, Object>> users(int limit) {
        return dsl.selectFrom(ADMIN_USER_OVERVIEW)
                .orderBy(ADMIN_USER_OVERVIEW.CURRENT_MONTH_USED.desc(), ADMIN_USER_OVERVIEW.USER_ID)
                .limit(limit)
                .fetchMaps();
    }

    /** Totals of one month from user_usage_overview: users, calls, units used, users per state, the top users. */
    public Map<String, Object> analytics(YearMonth month, int top) {
        var inMonth = USER_USAGE_OVERVIEW.MONTH.eq(month.atDay(1));
        var totals = dsl.select(DSL.count(), DSL.coalesce(DSL.sum(USER_USAGE_OVERVIEW.CALLS), DSL.inline(java.math.BigDecimal.ZERO)),
                        DSL.coalesce(DSL.sum(USER_USAGE_OVERVIEW.USED), DSL.inline(java.math.BigDecimal.ZERO)))
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
