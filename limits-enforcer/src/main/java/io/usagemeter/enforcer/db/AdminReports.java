package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static io.usagemeter.schema.jooq.Tables.SUBSCRIPTION_LIMITS;
import static io.usagemeter.schema.jooq.Tables.USERS;

import io.usagemeter.schema.jooq.Routines;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.jooq.tables.MonthlyUsageState;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
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
 * percentage and latest event, from the base tables. Without a search, the ids come off the indexes of
 * {@code monthly_usage_state} (V12: one row per summary with its state, percentage and limit, kept by PostgreSQL in
 * the transaction that changes the summary or the entitlement, so it is never behind them): the ranked list is a
 * few segments, each an index range (the users with use, by use or percentage) or the users without a row of their
 * own, by id; their sizes are index counts. A search ranks the matching users on narrow rows (id, units, limit)
 * computed from the base tables, as does {@link #fromBaseTables}, the reference the tests compare with.
 *
 * <p>Each report reads one snapshot (a read-only, repeatable-read transaction): a page agrees with its total.
 */
public final class AdminReports {

    private static final MonthlyUsageState STATE_ROWS = Tables.MONTHLY_USAGE_STATE;

    private final DSLContext dsl;
    private final boolean fromStateRows;

    public AdminReports(DSLContext dsl) {
        this(dsl, true);
    }

    private AdminReports(DSLContext dsl, boolean fromStateRows) {
        this.dsl = dsl;
        this.fromStateRows = fromStateRows;
    }

    /** Every page ranked from the base tables (users, plans, summaries), as before V12: the tests' reference. */
    static AdminReports fromBaseTables(DSLContext dsl) {
        return new AdminReports(dsl, false);
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
        return snapshot(tx -> {
            AdminReports reports = new AdminReports(tx, fromStateRows);
            Ranked ranked = fromStateRows && query.search() == null ? reports.segmented(query) : reports.rankMatching(query);
            return new UserPage(query.month(), query.page(), query.pageSize(), ranked.total(),
                    reports.describe(ranked.ids(), query.month()));
        });
    }

    /** {@code work} in one read-only, repeatable-read transaction: every statement of a report sees one snapshot. */
    private <T> T snapshot(java.util.function.Function<DSLContext, T> work) {
        return dsl.transactionResult(c -> {
            c.dsl().execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            return work.apply(c.dsl());
        });
    }

    /**
     * One part of the ranked list: how many users it holds, and a slice of their ids in its order. The list is
     * its segments one after the other.
     */
    private interface Segment {
        long size();

        List<UUID> ids(long offset, int limit);
    }

    /**
     * The ranked list as segments, for a query without a search. A listed user of the month either has a state row
     * (a summary) or uses 0 units; so, by the sort key:
     * <ul>
     *   <li>by units: the rows with units above 0 (off the index, in the state when filtered), and the users at 0
     *       units by id (their state is ok, or exceeded for a limit of 0);</li>
     *   <li>by percentage: the rows above 0 % (off the index), the users at 0 % by id (a limit above 0 and no use,
     *       or too little to show: all ok), and the users of a limit of 0 (no percentage, all exceeded) by id.</li>
     * </ul>
     * Sizes are counts of the indexes, of {@code users} and of the users with a limit of 0.
     */
    private Ranked segmented(UserQuery query) {
        LocalDate month = query.month().atDay(1);
        String state = query.state();
        var d = STATE_ROWS;
        Condition rows = d.MONTH.eq(month).and(d.LISTED).and(state == null ? DSL.noCondition() : d.STATE.eq(state));
        Counts counts = new Counts(month);
        List<Segment> segments = new ArrayList<>();
        switch (query.sort()) {
            case USED_DESC, USED_ASC -> {
                boolean desc = query.sort() == UserQuery.Sort.USED_DESC;
                Segment used = ranked(rows.and(d.USED.gt(0L)), desc ? d.USED.desc() : d.USED.asc());
                Segment none = null;
                if (state == null) {
                    none = byId(counts.users() - counts.rows(d.USED.gt(0L)), withoutRow(month, d.USED.gt(0L)), null);
                } else if (state.equals("ok")) {
                    none = byId(counts.users() - counts.zeroLimitUsers() - counts.rows(d.USED.gt(0L).and(d.EFFECTIVE_LIMIT.gt(0L))),
                            withoutRow(month, d.USED.gt(0L)), true);
                } else if (state.equals("exceeded")) {
                    none = byId(counts.zeroLimitUsers() - counts.rows(d.USED.gt(0L).and(d.EFFECTIVE_LIMIT.eq(0L))),
                            withoutRow(month, d.USED.gt(0L)), false);
                }
                if (!desc && none != null) {
                    segments.add(none);
                }
                segments.add(used);
                if (desc && none != null) {
                    segments.add(none);
                }
            }
            case PERCENT_DESC, PERCENT_ASC -> {
                boolean desc = query.sort() == UserQuery.Sort.PERCENT_DESC;
                Segment above = ranked(rows.and(d.PERCENT_USED.gt(BigDecimal.ZERO)),
                        desc ? d.PERCENT_USED.desc() : d.PERCENT_USED.asc());
                Segment zero = state == null || state.equals("ok")
                        ? byId(counts.users() - counts.zeroLimitUsers() - counts.rows(d.PERCENT_USED.gt(BigDecimal.ZERO)),
                                withoutRow(month, d.PERCENT_USED.gt(BigDecimal.ZERO)), true)
                        : null;
                Segment noLimit = state == null || state.equals("exceeded")
                        ? byId(counts.zeroLimitUsers(), DSL.noCondition(), false)
                        : null;
                if (!desc && zero != null) {
                    segments.add(zero);
                }
                segments.add(above);
                if (desc && zero != null) {
                    segments.add(zero);
                }
                if (noLimit != null) {
                    segments.add(noLimit);
                }
            }
        }
        return page(segments, query.offset(), query.pageSize());
    }

    /** The ids of the page across the segments, and the total of their sizes. */
    private static Ranked page(List<Segment> segments, long offset, int pageSize) {
        List<UUID> ids = new ArrayList<>(pageSize);
        long skip = offset;
        long total = 0;
        for (Segment segment : segments) {
            long size = segment.size();
            total += size;
            if (ids.size() < pageSize && skip < size) {
                ids.addAll(segment.ids(skip, (int) Math.min(pageSize - ids.size(), size - skip)));
                skip = 0;
            } else {
                skip -= Math.min(skip, size);
            }
        }
        return new Ranked(ids, total);
    }

    /** Rows of {@code monthly_usage_state} in the index's order (ties by id); their count from the same index. */
    private Segment ranked(Condition where, SortField<?> order) {
        var d = STATE_ROWS;
        return new Segment() {
            private long size = -1;

            @Override
            public long size() {
                if (size < 0) {
                    size = dsl.fetchCount(d, where);
                }
                return size;
            }

            @Override
            public List<UUID> ids(long offset, int limit) {
                return dsl.select(d.USER_ID).from(d).where(where).orderBy(order, d.USER_ID.asc())
                        .limit(limit).offset(offset).fetch(d.USER_ID);
            }
        };
    }

    /** The month's rows of a user that keep them out of a by-id segment. */
    private static Condition withoutRow(LocalDate month, Condition rowOutside) {
        var d = STATE_ROWS;
        return DSL.notExists(DSL.selectOne().from(d).where(d.MONTH.eq(month).and(d.USER_ID.eq(USERS.ID)).and(rowOutside)));
    }

    /**
     * Users by id, of a limit above 0 ({@code positiveLimit} true), of 0 (false) or any (null), matching
     * {@code where}; {@code size} is known from the counts.
     */
    private Segment byId(long size, Condition where, Boolean positiveLimit) {
        var u = USERS;
        var l = SUBSCRIPTION_LIMITS;
        Condition limit = positiveLimit == null ? DSL.noCondition()
                : positiveLimit ? zeroLimit().not() : zeroLimit();
        return new Segment() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public List<UUID> ids(long offset, int count) {
                return dsl.select(u.ID).from(u).join(l).on(l.PLAN.eq(u.PLAN))
                        .where(where).and(limit)
                        .orderBy(u.ID).limit(count).offset(offset).fetch(u.ID);
            }
        };
    }

    /** A limit of 0: {@code floor(plan_units * (1 + multiplier)) + bonus_credits} is 0 only for 0 plan units and no credits. */
    private static Condition zeroLimit() {
        return SUBSCRIPTION_LIMITS.MONTHLY_UNITS.eq(0L).and(USERS.BONUS_CREDITS.eq(0L));
    }

    /** The counts the segments' sizes are made of, each fetched once. */
    private final class Counts {
        private final LocalDate month;
        private long users = -1;
        private long zeroLimitUsers = -1;

        Counts(LocalDate month) {
            this.month = month;
        }

        /** Every listed user (users.plan is NOT NULL and references subscription_limits: the join keeps them all). */
        long users() {
            if (users < 0) {
                users = dsl.fetchCount(USERS);
            }
            return users;
        }

        long zeroLimitUsers() {
            if (zeroLimitUsers < 0) {
                zeroLimitUsers = dsl.fetchCount(DSL.selectOne().from(USERS).join(SUBSCRIPTION_LIMITS)
                        .on(SUBSCRIPTION_LIMITS.PLAN.eq(USERS.PLAN)).where(zeroLimit()));
            }
            return zeroLimitUsers;
        }

        /** Listed rows of the month matching {@code condition}, in any state. */
        long rows(Condition condition) {
            var d = STATE_ROWS;
            return dsl.fetchCount(d, d.MONTH.eq(month).and(d.LISTED).and(condition));
        }
    }

    /**
     * The users matching the search and state, ranked on narrow rows (id, units of the month, effective limit)
     * computed from the base tables, with their count in the same statement.
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
     * Totals of one month from {@code monthly_usage_state} (every summary, with or without a users row, as
     * {@code user_usage_overview} has them): users, calls, units used and users per state in one pass over the
     * month's rows, and the top users: their ids off the summaries' index {@code (month, units DESC, user_id)},
     * then their rows by key.
     */
    public Map<String, Object> analytics(YearMonth month, int top) {
        return snapshot(tx -> new AdminReports(tx, fromStateRows).analyticsIn(month, top));
    }

    private Map<String, Object> analyticsIn(YearMonth month, int top) {
        var d = STATE_ROWS;
        var inMonth = d.MONTH.eq(month.atDay(1));
        var totals = dsl.select(DSL.count(), DSL.coalesce(DSL.sum(d.CALLS), DSL.inline(BigDecimal.ZERO)),
                        DSL.coalesce(DSL.sum(d.USED), DSL.inline(BigDecimal.ZERO)),
                        DSL.count().filterWhere(d.STATE.eq("ok")), DSL.count().filterWhere(d.STATE.eq("warning")),
                        DSL.count().filterWhere(d.STATE.eq("exceeded")))
                .from(d).where(inMonth).fetchOne();
        Map<String, Integer> byState = new LinkedHashMap<>();
        byState.put("ok", totals.value4());
        byState.put("warning", totals.value5());
        byState.put("exceeded", totals.value6());
        var s = MONTHLY_USAGE_SUMMARY;
        List<UUID> topIds = dsl.select(s.USER_ID).from(s).where(s.MONTH.eq(month.atDay(1)))
                .orderBy(s.UNITS.desc(), s.USER_ID).limit(top).fetch(s.USER_ID);
        var u = USERS;
        Map<UUID, Map<String, Object>> byId = new HashMap<>();
        dsl.select(d.USER_ID.as("user_id"), u.EMAIL.as("email"), DSL.coalesce(u.PLAN, DSL.inline("free")).as("plan"),
                        d.USED.as("used"), d.EFFECTIVE_LIMIT.as("effective_limit"), d.PERCENT_USED.as("percent_used"),
                        d.STATE.as("state"))
                .from(d).leftJoin(u).on(u.ID.eq(d.USER_ID))
                .where(inMonth.and(d.USER_ID.in(topIds)))
                .forEach(r -> byId.put(r.get("user_id", UUID.class), new LinkedHashMap<>(r.intoMap())));
        List<Map<String, Object>> topUsers = topIds.stream().map(byId::get).filter(Objects::nonNull).toList();
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
