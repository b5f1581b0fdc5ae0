package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static io.usagemeter.schema.jooq.Tables.SUBSCRIPTION_LIMITS;
import static io.usagemeter.schema.jooq.Tables.USERS;
import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.jooq.Routines;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.sql.Connection;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The admin reports against a reference computed here, in Java, from the rows seeded: every search, state,
 * order and page of {@code GET /v1/admin/users} (read off V12's state rows and ranked from the base tables alike),
 * and a month's analytics. The rows are written as the pipeline writes them: summaries inserted, then lowered by a
 * reset or repaired by a replay, or deleted by a tombstone; plans and bonus credits set by the enforcer writer's
 * functions after the summaries (a credit command redelivered); events redelivered, removed and inserted again by
 * a replay's repair. Users of four plans (one of 0 units, so a limit of 0), with referrals and bonus
 * credits, usage spread over every state with exact 80 % and 100 % boundaries, ties in units, summaries of units
 * 0, users without a summary, summaries of users PostgreSQL has no row for, and another month.
 */
class AdminReportsIT {

    private static final YearMonth MONTH = YearMonth.of(2026, 3);
    private static final int USERS_SEEDED = 400;
    private static final Map<String, Long> PLAN_UNITS = Map.of("free", 1000L, "pro", 50_000L, "team", 250_000L, "zero", 0L);

    private static EmbeddedPostgresServer postgres;
    private static Connection connection;
    private static DSLContext dsl;

    /** What the reports should say about one user this month. */
    private record Expected(UUID id, String email, String plan, long calls, long used, long limit, String state,
                            BigDecimal percent, OffsetDateTime lastEventAt) {
    }

    private static final List<Expected> users = new ArrayList<>();
    /** Summaries of MONTH, with or without a users row: what the month's analytics count. */
    private static final List<Expected> summaries = new ArrayList<>();

    @BeforeAll
    static void seed() throws Exception {
        postgres = EmbeddedPostgresServer.start();
        postgres.createDatabase("meter");
        FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
        connection = postgres.dataSource("meter").getConnection();
        dsl = DSL.using(connection, SQLDialect.POSTGRES);
        dsl.insertInto(SUBSCRIPTION_LIMITS, SUBSCRIPTION_LIMITS.PLAN, SUBSCRIPTION_LIMITS.MONTHLY_UNITS)
                .values("zero", 0L).execute();

        Random random = new Random(16);
        OffsetDateTime start = MONTH.atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC);
        for (int i = 0; i < USERS_SEEDED; i++) {
            UUID id = new UUID(random.nextLong(), random.nextLong());
            String email = i % 9 == 0 ? null : "User" + i + "@Example.com";
            int p = random.nextInt(100);
            String plan = p < 60 ? "free" : p < 80 ? "pro" : p < 95 ? "team" : "zero";
            int referrals = random.nextInt(6) == 0 ? random.nextInt(150) : 0;
            long bonus = random.nextInt(5) == 0 ? random.nextInt(3000) : 0;
            // Plan and credits arrive as the enforcer's writer sends them (after the summaries, for half the users),
            // so that V12's state rows see the entitlement change as well as the summary.
            boolean entitlementLater = i % 2 == 0;
            dsl.insertInto(USERS).set(USERS.ID, id).set(USERS.EMAIL, email)
                    .set(USERS.PLAN, entitlementLater ? "free" : plan)
                    .set(USERS.REFERRAL_COUNT, referrals).set(USERS.BONUS_CREDITS, entitlementLater ? 0 : bonus)
                    .set(USERS.CREATED_AT, start.minusDays(i)).execute();
            long limit = LimitRules.effectiveLimit(PLAN_UNITS.get(plan), referrals, bonus);
            OffsetDateTime lastEvent = null;
            if (i % 4 != 3) {
                int kind = random.nextInt(20);
                long used = switch (kind) {
                    case 0 -> 0;                     // a summary of units 0 (e.g. after a reset)
                    case 1 -> limit;                 // exactly 100 %
                    case 2 -> limit * 4 / 5;         // 80 %, or just below when limit is not a multiple of 5
                    case 3, 4 -> 500;                // ties
                    default -> (long) (Math.max(limit, 10) * random.nextDouble() * 1.3);
                };
                long calls = used / 3 + 1;
                lastEvent = start.plusHours(random.nextInt(600));
                if (i % 3 == 0) {
                    // A month a reset lowered, or a replay repaired: first more, then the stream's value.
                    insertSummary(id, MONTH, calls + 4, used + 777, lastEvent);
                    updateSummary(id, MONTH, calls, used);
                } else {
                    insertSummary(id, MONTH, calls, used, lastEvent);
                }
                Expected e = expected(id, email, plan, calls, used, limit, lastEvent);
                summaries.add(e);
            }
            if (i % 4 == 3 && i % 8 == 7) {
                // A summary deleted by a tombstone: no use this month.
                insertSummary(id, MONTH, 3, 3, start.plusHours(1));
                dsl.deleteFrom(MONTHLY_USAGE_SUMMARY).where(MONTHLY_USAGE_SUMMARY.USER_ID.eq(id)).execute();
            }
            if (entitlementLater) {
                Routines.adminSetUserPlan(dsl.configuration(), "seed-plan-" + i, id, plan);
                if (bonus > 0) {
                    Routines.adminAddBonusCredits(dsl.configuration(), "seed-credits-" + i, id, bonus);
                    Routines.adminAddBonusCredits(dsl.configuration(), "seed-credits-" + i, id, bonus); // redelivered
                }
            }
            if (random.nextBoolean()) {
                // The next month: not counted in MONTH, but its event is the user's latest.
                OffsetDateTime later = start.plusMonths(1).plusHours(random.nextInt(100));
                insertSummary(id, MONTH.plusMonths(1), 5, 9_999_999, later);
                lastEvent = later;
            }
            long used = summaries.stream().filter(s -> s.id().equals(id)).mapToLong(Expected::used).findFirst().orElse(0);
            long calls = summaries.stream().filter(s -> s.id().equals(id)).mapToLong(Expected::calls).findFirst().orElse(0);
            users.add(expected(id, email, plan, calls, used, limit, lastEvent));
        }
        for (int i = 0; i < 10; i++) {
            // Events of users PostgreSQL has no row for: in the analytics (as free users), not in the users' pages.
            UUID stranger = new UUID(random.nextLong(), random.nextLong());
            long used = 200L * i;
            insertSummary(stranger, MONTH, i + 1, used, start.plusHours(i));
            summaries.add(expected(stranger, null, "free", i + 1, used, 1000, start.plusHours(i)));
        }
        dsl.execute("ANALYZE");
    }

    private static void insertSummary(UUID user, YearMonth month, long calls, long units, OffsetDateTime lastEvent) {
        var s = MONTHLY_USAGE_SUMMARY;
        dsl.insertInto(s).set(s.USER_ID, user).set(s.MONTH, month.atDay(1)).set(s.CALLS, calls).set(s.UNITS, units)
                .set(s.SUCCESSFUL_CALLS, calls).set(s.FAILED_CALLS, 0L)
                .set(s.FIRST_EVENT_AT, month.atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC)).set(s.LAST_EVENT_AT, lastEvent)
                .execute();
    }

    private static void updateSummary(UUID user, YearMonth month, long calls, long units) {
        var s = MONTHLY_USAGE_SUMMARY;
        dsl.update(s).set(s.CALLS, calls).set(s.UNITS, units).set(s.SUCCESSFUL_CALLS, calls)
                .where(s.USER_ID.eq(user).and(s.MONTH.eq(month.atDay(1)))).execute();
    }

    private static Expected expected(UUID id, String email, String plan, long calls, long used, long limit,
                                     OffsetDateTime lastEventAt) {
        BigDecimal percent = limit == 0 ? null
                : BigDecimal.valueOf(used).multiply(BigDecimal.valueOf(100)).divide(BigDecimal.valueOf(limit), 2, RoundingMode.HALF_UP);
        return new Expected(id, email, plan, calls, used, limit, LimitStatus.of(used, limit).name().toLowerCase(Locale.ROOT),
                percent, lastEventAt);
    }

    @AfterAll
    static void stop() throws Exception {
        if (connection != null) {
            connection.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    /** PostgreSQL orders uuids by their bytes: as their lower-case text. */
    private static final Comparator<Expected> BY_ID = Comparator.comparing(e -> e.id().toString());

    private static Comparator<Expected> order(UserQuery.Sort sort) {
        Comparator<BigDecimal> percentAsc = Comparator.nullsLast(Comparator.naturalOrder());
        Comparator<BigDecimal> percentDesc = Comparator.nullsLast(Comparator.<BigDecimal>reverseOrder());
        Comparator<Expected> key = switch (sort) {
            case USED_DESC -> Comparator.comparingLong(Expected::used).reversed();
            case USED_ASC -> Comparator.comparingLong(Expected::used);
            case PERCENT_DESC -> Comparator.comparing(Expected::percent, percentDesc);
            case PERCENT_ASC -> Comparator.comparing(Expected::percent, percentAsc);
        };
        return key.thenComparing(BY_ID);
    }

    private static Predicate<Expected> matching(String search) {
        if (search == null) {
            return e -> true;
        }
        String text = search.toLowerCase(Locale.ROOT);
        String hex = text.replace("-", "");
        return e -> e.email() != null && e.email().toLowerCase(Locale.ROOT).contains(text)
                || hex.matches("[0-9a-f]+") && e.id().toString().replace("-", "").startsWith(hex);
    }

    @Test
    void everySearchStateOrderAndPageIsExactWhicheverWayThePageIsFound() {
        List<String> searches = new ArrayList<>();
        searches.add(null);
        searches.add("user1");
        searches.add(users.get(7).id().toString().substring(0, 2));
        searches.add(users.get(11).id().toString());
        List<String> states = new ArrayList<>();
        states.add(null);
        states.addAll(List.of(UserQuery.STATES));
        // Off the index for the plain pages (as in production), and ranking every user for all of them.
        for (AdminReports reports : List.of(new AdminReports(dsl), AdminReports.fromBaseTables(dsl))) {
            for (String search : searches) {
                for (String state : states) {
                    for (UserQuery.Sort sort : UserQuery.Sort.values()) {
                        List<Expected> expected = users.stream().filter(matching(search))
                                .filter(e -> state == null || e.state().equals(state))
                                .sorted(order(sort)).toList();
                        int pageSize = 45;
                        int pages = Math.max(1, (expected.size() + pageSize - 1) / pageSize);
                        for (int page = 1; page <= pages + 1; page++) {
                            String what = "q=" + search + " state=" + state + " sort=" + sort + " page=" + page;
                            AdminReports.UserPage got = reports.users(new UserQuery(MONTH, search, state, sort, page, pageSize));
                            List<Expected> want = expected.subList(Math.min(expected.size(), (page - 1) * pageSize),
                                    Math.min(expected.size(), page * pageSize));
                            assertThat(got.total()).as(what).isEqualTo(expected.size());
                            assertThat(got.users()).as(what).extracting(r -> r.get("user_id"))
                                    .containsExactlyElementsOf(want.stream().map(Expected::id).toList());
                            for (int i = 0; i < want.size(); i++) {
                                assertRow(got.users().get(i), want.get(i), what);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void theSeededDataCoversWhatTheReportsMustGetRight() {
        Map<String, Long> perState = users.stream().collect(Collectors.groupingBy(Expected::state, Collectors.counting()));
        assertThat(perState).containsOnlyKeys("ok", "warning", "exceeded").allSatisfy((s, n) -> assertThat(n).isGreaterThan(10));
        assertThat(users).anySatisfy(e -> assertThat(e.limit()).isZero());
        assertThat(users).anySatisfy(e -> assertThat(e.used()).isZero());
        assertThat(summaries).anySatisfy(e -> assertThat(e.used()).isZero());
        assertThat(users.stream().filter(e -> e.used() == 500).count()).isGreaterThan(5);
        assertThat(users.stream().filter(e -> e.limit() > 0 && e.used() * 5 == e.limit() * 4).count()).isPositive();
    }

    @Test
    void pagesOfTheMostUsedAreTheSameOffTheIndexAndRankedAtEveryDepth() {
        // The boundary between users with units and users without, at every page size around it.
        long withUse = users.stream().filter(e -> e.used() > 0).count();
        for (int pageSize : List.of(1, 7, (int) withUse, (int) withUse + 1)) {
            for (int page = 1; (long) (page - 1) * pageSize <= USERS_SEEDED; page++) {
                var query = new UserQuery(MONTH, null, null, UserQuery.Sort.USED_DESC, page, pageSize);
                var indexed = new AdminReports(dsl).users(query);
                var ranked = AdminReports.fromBaseTables(dsl).users(query);
                assertThat(indexed.total()).isEqualTo(USERS_SEEDED);
                assertThat(indexed.users()).as("page %d of %d", page, pageSize).isEqualTo(ranked.users());
            }
        }
    }

    @Test
    void aMonthWithoutUseListsEveryUserAtZeroById() {
        var page = new AdminReports(dsl).users(new UserQuery(MONTH.minusMonths(5), null, null, UserQuery.Sort.USED_DESC, 2, 50));
        assertThat(page.total()).isEqualTo(USERS_SEEDED);
        assertThat(page.users()).extracting(r -> r.get("user_id")).containsExactlyElementsOf(
                users.stream().sorted(BY_ID).skip(50).limit(50).map(Expected::id).toList());
        assertThat(page.users()).allSatisfy(r -> assertThat(r.get("current_month_used")).isEqualTo(0L));
    }

    private static void assertRow(Map<String, Object> row, Expected want, String what) {
        String as = what + " user " + want.id();
        assertThat(row.get("email")).as(as).isEqualTo(want.email());
        assertThat(row.get("plan")).as(as).isEqualTo(want.plan());
        assertThat(row.get("current_month_calls")).as(as).isEqualTo(want.calls());
        assertThat(row.get("current_month_used")).as(as).isEqualTo(want.used());
        assertThat(row.get("effective_limit")).as(as).isEqualTo(want.limit());
        assertThat(row.get("current_month_state")).as(as).isEqualTo(want.state());
        if (want.percent() == null) {
            assertThat(row.get("percent_used")).as(as).isNull();
        } else {
            assertThat((BigDecimal) row.get("percent_used")).as(as).isEqualByComparingTo(want.percent());
        }
        assertThat(row.get("current_month")).as(as).isEqualTo(MONTH.atDay(1));
        assertThat(row.get("last_event_at") == null ? null : ((OffsetDateTime) row.get("last_event_at")).toInstant())
                .as(as).isEqualTo(want.lastEventAt() == null ? null : want.lastEventAt().toInstant());
    }

    @Test
    void theDailyWindowCountsEachUtcDayWhateverTheSessionTimeZone() {
        var a = io.usagemeter.schema.jooq.Tables.API_USAGE;
        UUID user = users.get(0).id();
        String[][] events = {
                {"2026-02-27T23:59:59.999Z", "openai"}, {"2026-02-28T00:00:00Z", "openai"},
                {"2026-02-28T12:00:00Z", "github"}, {"2026-02-28T23:00:00Z", "github"},
                {"2026-03-01T00:00:00Z", "gemini"}, {"2026-03-02T00:00:00Z", "other"}};
        for (int i = 0; i < events.length; i++) {
            dsl.insertInto(a).set(a.EVENT_ID, "daily-" + i).set(a.USER_ID, user)
                    .set(a.OCCURRED_AT, OffsetDateTime.parse(events[i][0])).set(a.PROVIDER, events[i][1])
                    .set(a.ENDPOINT, "/v1/chat").set(a.METHOD, "POST").set(a.STATUS_CODE, 200).set(a.RESPONSE_TIME_MS, 1L)
                    .set(a.REQUEST_BYTES, 1L).set(a.RESPONSE_BYTES, 1L).execute();
        }
        // The sink's redelivered batch adds nothing; a replay's repair removes a row and inserts it again.
        dsl.execute("INSERT INTO api_usage SELECT * FROM api_usage WHERE event_id LIKE 'daily-%' ON CONFLICT DO NOTHING");
        dsl.execute("CREATE TEMPORARY TABLE removed AS SELECT * FROM api_usage WHERE event_id = 'daily-2'");
        dsl.execute("DELETE FROM api_usage WHERE event_id = 'daily-2'");
        dsl.execute("INSERT INTO api_usage SELECT * FROM removed");
        dsl.execute("DROP TABLE removed");
        dsl.execute("SET TIME ZONE 'America/New_York'");
        try {
            var window = new DailyAnalytics(dsl).days(java.time.LocalDate.parse("2026-02-27"), java.time.LocalDate.parse("2026-03-01"));
            assertThat(window.days()).extracting(d -> d.day().toString())
                    .containsExactly("2026-02-27", "2026-02-28", "2026-03-01");
            assertThat(window.days()).extracting(DailyAnalytics.Day::events).containsExactly(1L, 3L, 1L);
            assertThat(window.days().get(1).eventsByProvider())
                    .containsEntry("openai", 1L).containsEntry("github", 2L).containsEntry("gemini", 0L);
            assertThat(window.days().get(2).eventsByProvider()).containsEntry("gemini", 1L).containsEntry("other", 0L);
            // The seeded users were created at UTC midnights, one a day back from 1 March.
            assertThat(window.days()).extracting(DailyAnalytics.Day::newUsers).containsExactly(1L, 1L, 1L);
            assertThat(window.days()).extracting(DailyAnalytics.Day::completedReferrals).containsOnly(0L);
        } finally {
            dsl.execute("RESET TIME ZONE");
        }
    }

    @Test
    void theMonthsAnalyticsCountEverySummaryInOnePassAndListTheTopUsers() {
        Map<String, Object> analytics = new AdminReports(dsl).analytics(MONTH, 15);
        assertThat(analytics.get("month")).isEqualTo(MONTH.toString());
        assertThat(((Number) analytics.get("users")).longValue()).isEqualTo(summaries.size());
        assertThat(((Number) analytics.get("calls")).longValue()).isEqualTo(summaries.stream().mapToLong(Expected::calls).sum());
        assertThat(((Number) analytics.get("used")).longValue()).isEqualTo(summaries.stream().mapToLong(Expected::used).sum());
        Map<String, Integer> byState = new LinkedHashMap<>();
        for (String state : UserQuery.STATES) {
            byState.put(state, (int) summaries.stream().filter(e -> e.state().equals(state)).count());
        }
        assertThat(analytics.get("users_by_state")).isEqualTo(byState);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> top = (List<Map<String, Object>>) analytics.get("top_users");
        List<Expected> want = summaries.stream().sorted(order(UserQuery.Sort.USED_DESC)).limit(15).toList();
        assertThat(top).extracting(r -> r.get("user_id")).containsExactlyElementsOf(want.stream().map(Expected::id).toList());
        Map<UUID, Expected> byId = new HashMap<>();
        want.forEach(e -> byId.put(e.id(), e));
        assertThat(top).allSatisfy(r -> {
            Expected e = byId.get((UUID) r.get("user_id"));
            assertThat(r.get("used")).isEqualTo(e.used());
            assertThat(r.get("effective_limit")).isEqualTo(e.limit());
            assertThat(r.get("state")).isEqualTo(e.state());
            assertThat(Objects.toString(r.get("plan"))).isEqualTo(e.plan());
        });

        Map<String, Object> empty = new AdminReports(dsl).analytics(MONTH.minusMonths(5), 15);
        assertThat(((Number) empty.get("users")).longValue()).isZero();
        assertThat(empty.get("users_by_state")).isEqualTo(Map.of("ok", 0, "warning", 0, "exceeded", 0));
        assertThat((List<?>) empty.get("top_users")).isEmpty();
    }
}
