package io.usagemeter.schema;

import static io.usagemeter.schema.jooq.Tables.ADMIN_USER_OVERVIEW;
import static io.usagemeter.schema.jooq.Tables.APPLIED_COMMANDS;
import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static io.usagemeter.schema.jooq.Tables.USAGE_RESETS;
import static io.usagemeter.schema.jooq.Tables.USERS;
import static io.usagemeter.schema.jooq.Tables.USER_REFERRALS;
import static io.usagemeter.schema.jooq.Tables.USER_USAGE_OVERVIEW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.jooq.Routines;
import io.usagemeter.schema.jooq.routines.CompleteReferral;
import io.usagemeter.schema.jooq.routines.GetUserUsageStats;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jooq.Configuration;
import org.jooq.DSLContext;
import org.jooq.JSONB;
import org.jooq.SQLDialect;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The older system's functions and views, called the way the pipeline calls them: jOOQ's generated routines. */
class DatabaseFunctionsTest {

    private static final LocalDate MARCH = LocalDate.parse("2026-03-01");

    private static MigratedDatabase db;
    private static DSLContext dsl;
    private static Configuration cfg;

    @BeforeAll
    static void migrate() {
        db = MigratedDatabase.start();
        dsl = db.dsl();
        cfg = dsl.configuration();
    }

    @AfterAll
    static void stop() {
        if (db != null) {
            db.close();
        }
    }

    @Test
    void eachReferralAddsTenCreditsAndTwoPercentCappedAtTwoHundredPercent() {
        UUID referrer = UUID.randomUUID();
        // free plan: 1000 units; limit = floor(1000 * (1 + min(n * 0.02, 2.0))) + 10 * n
        Map<Integer, Long> expectedLimit = Map.of(0, 1000L, 1, 1030L, 99, 3970L, 100, 4000L, 101, 4010L);
        Map<Integer, String> expectedMultiplier = Map.of(0, "0", 1, "0.02", 99, "1.98", 100, "2", 101, "2");
        Map<Integer, Long> seen = new TreeMap<>();
        for (int n = 0; n <= 101; n++) {
            if (expectedLimit.containsKey(n)) {
                GetUserUsageStats stats = Routines.getUserUsageStats(cfg, referrer, MARCH);
                assertThat(stats.getReferralCount()).isEqualTo(n);
                assertThat(stats.getBonusCredits()).isEqualTo(10L * n);
                assertThat(stats.getMultiplier()).isEqualByComparingTo(new BigDecimal(expectedMultiplier.get(n)));
                assertThat(stats.getPlanUnits()).isEqualTo(1000L);
                seen.put(n, stats.getEffectiveLimit());
            }
            CompleteReferral result = Routines.completeReferral(cfg, "ref-cap-" + n, referrer, UUID.randomUUID());
            assertThat(result.getOutcome()).isEqualTo("completed");
            assertThat(result.getReason()).isNull();
            assertThat(result.getReferralCount()).isEqualTo(n + 1);
            assertThat(result.getBonusCredits()).isEqualTo(10L * (n + 1));
        }
        assertThat(seen).isEqualTo(new TreeMap<>(expectedLimit));
        assertThat(dsl.fetchCount(USER_REFERRALS, USER_REFERRALS.REFERRER_ID.eq(referrer)
                .and(USER_REFERRALS.STATUS.eq("completed")))).isEqualTo(102);
    }

    @Test
    void theLimitFormulaLivesInOneFunction() {
        assertThat(Routines.effectiveLimit(cfg, 1000L, 0, 0L)).isEqualTo(1000L);
        assertThat(Routines.effectiveLimit(cfg, 1000L, 1, 10L)).isEqualTo(1030L);
        assertThat(Routines.effectiveLimit(cfg, 999L, 1, 0L)).as("floor of 1018.98").isEqualTo(1018L);
        assertThat(Routines.effectiveLimit(cfg, 50_000L, 500, 7L)).isEqualTo(150_007L);
        assertThat(Routines.referralMultiplier(cfg, 250)).isEqualByComparingTo("2.0");
        assertThat(Routines.usageState(cfg, 799L, 1000L)).isEqualTo("ok");
        assertThat(Routines.usageState(cfg, 800L, 1000L)).isEqualTo("warning");
        assertThat(Routines.usageState(cfg, 999L, 1000L)).isEqualTo("warning");
        assertThat(Routines.usageState(cfg, 1000L, 1000L)).isEqualTo("exceeded");
    }

    @Test
    void completingAReferralCreatesUnknownUsers() {
        UUID referrer = UUID.randomUUID();
        UUID referred = UUID.randomUUID();
        Routines.completeReferral(cfg, "ref-new-users", referrer, referred);

        var users = dsl.selectFrom(USERS).where(USERS.ID.in(referrer, referred)).fetchMap(USERS.ID);
        assertThat(users).containsOnlyKeys(referrer, referred);
        assertThat(users.get(referred).getPlan()).isEqualTo("free");
        assertThat(users.get(referred).getEmail()).isNull();
        assertThat(users.get(referred).getReferredBy()).isEqualTo(referrer);
        assertThat(users.get(referrer).getReferralCode()).matches("[A-HJ-NP-Z2-9]{8}");
        assertThat(users.get(referrer).getReferralCode()).isNotEqualTo(users.get(referred).getReferralCode());
    }

    @Test
    void selfReferralIsRefusedAndImpossibleByConstraint() {
        UUID user = UUID.randomUUID();
        CompleteReferral result = Routines.completeReferral(cfg, "ref-self", user, user);

        assertThat(result.getOutcome()).isEqualTo("refused");
        assertThat(result.getReason()).isEqualTo("self_referral");
        assertThat(result.getReferralCount()).isZero();
        assertThat(result.getBonusCredits()).isZero();
        assertThat(dsl.fetchCount(USER_REFERRALS, USER_REFERRALS.REFERRED_ID.eq(user))).isZero();
        assertThat(storedResult("ref-self")).contains("\"reason\": \"self_referral\"");
        assertThatThrownBy(() -> dsl.insertInto(USER_REFERRALS)
                .set(USER_REFERRALS.REFERRER_ID, user)
                .set(USER_REFERRALS.REFERRED_ID, user)
                .execute()).isInstanceOf(DataAccessException.class);
    }

    @Test
    void aUserIsReferredOnlyOnce() {
        UUID first = UUID.randomUUID();
        UUID second = UUID.randomUUID();
        UUID referred = UUID.randomUUID();
        assertThat(Routines.completeReferral(cfg, "ref-once-1", first, referred).getOutcome()).isEqualTo("completed");

        CompleteReferral byAnother = Routines.completeReferral(cfg, "ref-once-2", second, referred);
        assertThat(byAnother.getOutcome()).isEqualTo("refused");
        assertThat(byAnother.getReason()).isEqualTo("already_referred");
        assertThat(byAnother.getReferralCount()).isZero();

        CompleteReferral again = Routines.completeReferral(cfg, "ref-once-3", first, referred);
        assertThat(again.getOutcome()).isEqualTo("refused");
        assertThat(again.getReason()).isEqualTo("already_completed");
        assertThat(again.getReferralCount()).isEqualTo(1);
        assertThat(again.getBonusCredits()).isEqualTo(10L);

        CompleteReferral redelivered = Routines.completeReferral(cfg, "ref-once-1", first, referred);
        assertThat(redelivered.getOutcome()).isEqualTo("completed");
        assertThat(redelivered.getReferralCount()).isEqualTo(1);
        assertThat(dsl.fetchValue(USERS.REFERRAL_COUNT, USERS.ID.eq(first))).isEqualTo(1);
        assertThat(dsl.fetchValue(USERS.BONUS_CREDITS, USERS.ID.eq(first))).isEqualTo(10L);
        assertThat(dsl.fetchValue(USERS.REFERRAL_COUNT, USERS.ID.eq(second))).isZero();
        assertThat(dsl.fetchCount(USER_REFERRALS, USER_REFERRALS.REFERRED_ID.eq(referred))).isEqualTo(1);
    }

    @Test
    void aPendingReferralIsCompletedOnlyByItsReferrer() {
        UUID referrer = UUID.randomUUID();
        UUID other = UUID.randomUUID();
        UUID referred = UUID.randomUUID();
        Routines.ensureUser(cfg, referrer);
        Routines.ensureUser(cfg, referred);
        dsl.insertInto(USER_REFERRALS)
                .set(USER_REFERRALS.REFERRAL_ID, "r-pending")
                .set(USER_REFERRALS.REFERRER_ID, referrer)
                .set(USER_REFERRALS.REFERRED_ID, referred)
                .execute();

        assertThat(Routines.completeReferral(cfg, "ref-pending-other", other, referred).getReason())
                .isEqualTo("already_referred");
        assertThat(Routines.completeReferral(cfg, "ref-pending", referrer, referred).getOutcome())
                .isEqualTo("completed");

        var row = dsl.selectFrom(USER_REFERRALS).where(USER_REFERRALS.REFERRED_ID.eq(referred)).fetchSingle();
        assertThat(row.getReferralId()).isEqualTo("r-pending");
        assertThat(row.getStatus()).isEqualTo("completed");
        assertThat(row.getCompletedAt()).isNotNull();
    }

    @Test
    void bonusCreditsAreAddedOncePerCommand() {
        UUID user = UUID.randomUUID();
        var first = Routines.adminAddBonusCredits(cfg, "credits-1", user, 25L);
        var redelivered = Routines.adminAddBonusCredits(cfg, "credits-1", user, 25L);
        assertThat(first.getOutcome()).isEqualTo("applied");
        assertThat(first.getBonusCredits()).isEqualTo(25L);
        assertThat(redelivered.getOutcome()).isEqualTo("applied");
        assertThat(redelivered.getBonusCredits()).isEqualTo(25L);
        assertThat(dsl.fetchValue(USERS.BONUS_CREDITS, USERS.ID.eq(user))).isEqualTo(25L);

        assertThat(Routines.adminAddBonusCredits(cfg, "credits-2", user, 5L).getBonusCredits()).isEqualTo(30L);
        var refused = Routines.adminAddBonusCredits(cfg, "credits-3", user, 0L);
        assertThat(refused.getOutcome()).isEqualTo("refused");
        assertThat(refused.getReason()).isEqualTo("amount_not_positive");
        assertThat(refused.getBonusCredits()).isEqualTo(30L);
        assertThat(Routines.getUserUsageStats(cfg, user, MARCH).getEffectiveLimit()).isEqualTo(1030L);
        assertThat(dsl.fetchCount(APPLIED_COMMANDS, APPLIED_COMMANDS.USER_ID.eq(user))).isEqualTo(3);
    }

    @Test
    void bonusCreditsKeepTheBoundsOfTheJavaSide() {
        UUID user = UUID.randomUUID();
        var tooLarge = Routines.adminAddBonusCredits(cfg, "credits-huge", user, Bounds.MAX_CREDITS_PER_COMMAND + 1);
        assertThat(tooLarge.getOutcome()).isEqualTo("refused");
        assertThat(tooLarge.getReason()).isEqualTo("amount_too_large");
        assertThat(tooLarge.getBonusCredits()).isZero();
        var longMax = Routines.adminAddBonusCredits(cfg, "credits-long-max", user, Long.MAX_VALUE);
        assertThat(longMax.getOutcome()).isEqualTo("refused");
        assertThat(longMax.getReason()).isEqualTo("amount_too_large");
        assertThat(dsl.fetchValue(USERS.BONUS_CREDITS, USERS.ID.eq(user))).isZero();

        var largest = Routines.adminAddBonusCredits(cfg, "credits-largest", user, Bounds.MAX_CREDITS_PER_COMMAND);
        assertThat(largest.getOutcome()).isEqualTo("applied");
        assertThat(largest.getBonusCredits()).isEqualTo(Bounds.MAX_CREDITS_PER_COMMAND);

        // Near the total's bound (set by hand, as grants of 10^9 would take a million commands): it saturates.
        dsl.update(USERS).set(USERS.BONUS_CREDITS, Bounds.MAX_BONUS_CREDITS - 5).where(USERS.ID.eq(user)).execute();
        var saturated = Routines.adminAddBonusCredits(cfg, "credits-saturated", user, Bounds.MAX_CREDITS_PER_COMMAND);
        assertThat(saturated.getOutcome()).isEqualTo("applied");
        assertThat(saturated.getBonusCredits()).isEqualTo(Bounds.MAX_BONUS_CREDITS);
        // Even a total above the bound (an operator's UPDATE) neither overflows nor grows.
        dsl.update(USERS).set(USERS.BONUS_CREDITS, Long.MAX_VALUE).where(USERS.ID.eq(user)).execute();
        assertThat(Routines.adminAddBonusCredits(cfg, "credits-above", user, 1L).getBonusCredits())
                .isEqualTo(Bounds.MAX_BONUS_CREDITS);
        assertThat(dsl.fetchValue(USERS.BONUS_CREDITS, USERS.ID.eq(user))).isEqualTo(Bounds.MAX_BONUS_CREDITS);
    }

    @Test
    void aCommandDeliveredConcurrentlyIsAppliedOnce() throws Exception {
        UUID user = UUID.randomUUID();
        Routines.ensureUser(cfg, user);
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<Callable<Long>> deliveries = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                // Each delivery on its own connection, as from separate enforcer instances.
                deliveries.add(() -> Routines.adminAddBonusCredits(
                        DSL.using(db.dataSource(), SQLDialect.POSTGRES).configuration(), "credits-race", user, 7L)
                        .getBonusCredits());
            }
            List<Long> results = new ArrayList<>();
            for (Future<Long> f : pool.invokeAll(deliveries)) {
                results.add(f.get());
            }
            assertThat(results).containsOnly(7L);
        } finally {
            pool.shutdownNow();
        }
        assertThat(dsl.fetchValue(USERS.BONUS_CREDITS, USERS.ID.eq(user))).isEqualTo(7L);
    }

    @Test
    void aUsageResetIsRecordedOncePerCommand() {
        UUID user = UUID.randomUUID();
        OffsetDateTime resetAt = OffsetDateTime.parse("2026-03-14T09:30:00Z");
        var first = Routines.adminResetUserUsage(cfg, "reset-1", user, LocalDate.parse("2026-03-20"), resetAt);
        var redelivered = Routines.adminResetUserUsage(cfg, "reset-1", user, LocalDate.parse("2026-03-20"), resetAt);

        assertThat(first.getOutcome()).isEqualTo("applied");
        assertThat(first.getMonth()).isEqualTo(MARCH);
        assertThat(first.getResetAt().toInstant()).isEqualTo(resetAt.toInstant());
        assertThat(redelivered.getOutcome()).isEqualTo("applied");
        assertThat(redelivered.getResetAt().toInstant()).isEqualTo(resetAt.toInstant());
        var resets = dsl.selectFrom(USAGE_RESETS).where(USAGE_RESETS.USER_ID.eq(user)).fetch();
        assertThat(resets).hasSize(1);
        assertThat(resets.get(0).getMonth()).isEqualTo(MARCH);
        assertThat(resets.get(0).getCommandId()).isEqualTo("reset-1");
        assertThat(Routines.getUserUsageStats(cfg, user, MARCH).getLastResetAt().toInstant())
                .isEqualTo(resetAt.toInstant());

        var beforeMonth = Routines.adminResetUserUsage(cfg, "reset-2", user, MARCH,
                OffsetDateTime.parse("2026-02-28T23:59:59Z"));
        assertThat(beforeMonth.getOutcome()).isEqualTo("refused");
        assertThat(beforeMonth.getReason()).isEqualTo("reset_before_month");
        assertThat(dsl.fetchCount(USAGE_RESETS, USAGE_RESETS.USER_ID.eq(user))).isEqualTo(1);
    }

    @Test
    void aCommandIdCannotBeReusedForAnotherKindOfCommand() {
        UUID user = UUID.randomUUID();
        Routines.adminAddBonusCredits(cfg, "shared-id", user, 1L);
        assertThatThrownBy(() -> Routines.adminResetUserUsage(cfg, "shared-id", user, MARCH,
                OffsetDateTime.parse("2026-03-02T00:00:00Z")))
                .isInstanceOf(DataAccessException.class)
                .hasMessageContaining("was applied as admin_add_bonus_credits");
        assertThat(dsl.fetchCount(USAGE_RESETS, USAGE_RESETS.USER_ID.eq(user))).isZero();
    }

    @Test
    void settingAPlanChangesTheLimitAndRefusesUnknownPlans() {
        UUID user = UUID.randomUUID();
        var applied = Routines.adminSetUserPlan(cfg, "plan-1", user, "pro");
        assertThat(applied.getOutcome()).isEqualTo("applied");
        assertThat(applied.getPreviousPlan()).isEqualTo("free");
        assertThat(Routines.getUserUsageStats(cfg, user, MARCH).getEffectiveLimit()).isEqualTo(50_000L);

        var refused = Routines.adminSetUserPlan(cfg, "plan-2", user, "platinum");
        assertThat(refused.getOutcome()).isEqualTo("refused");
        assertThat(refused.getReason()).isEqualTo("unknown_plan");
        assertThat(refused.getPlan()).isEqualTo("pro");
        assertThat(Routines.adminSetUserPlan(cfg, "plan-1", user, "team").getPlan()).as("redelivered").isEqualTo("pro");
        assertThat(dsl.fetchValue(USERS.PLAN, USERS.ID.eq(user))).isEqualTo("pro");
    }

    @Test
    void usageStatsReportTheSummaryAndExplainTheLimit() {
        UUID user = UUID.randomUUID();
        Routines.completeReferral(cfg, "stats-ref", user, UUID.randomUUID());
        Routines.adminAddBonusCredits(cfg, "stats-credits", user, 40L);
        insertSummary(user, MARCH, 930, 870, 60, 950);

        GetUserUsageStats stats = Routines.getUserUsageStats(cfg, user, LocalDate.parse("2026-03-17"));
        assertThat(stats.getMonth()).isEqualTo(MARCH);
        assertThat(stats.getPlan()).isEqualTo("free");
        assertThat(stats.getPlanUnits()).isEqualTo(1000L);
        assertThat(stats.getReferralCount()).isEqualTo(1);
        assertThat(stats.getMultiplier()).isEqualByComparingTo("0.02");
        assertThat(stats.getBonusCredits()).isEqualTo(50L);
        assertThat(stats.getEffectiveLimit()).isEqualTo(1070L);
        assertThat(stats.getUsed()).isEqualTo(950L);
        assertThat(stats.getRemaining()).isEqualTo(120L);
        assertThat(stats.getState()).isEqualTo("warning");
        assertThat(stats.getCalls()).isEqualTo(930L);
        assertThat(stats.getUnits()).isEqualTo(950L);
        assertThat(stats.getSuccessfulCalls()).isEqualTo(870L);
        assertThat(stats.getFailedCalls()).isEqualTo(60L);
        assertThat(stats.getTokens()).isEqualTo(12_345L);
        assertThat(stats.getRequestBytes()).isEqualTo(1_000L);
        assertThat(stats.getResponseBytes()).isEqualTo(9_000L);
        assertThat(stats.getResponseTimeMsSum()).isEqualTo(93_000L);
        assertThat(stats.getResponseTimeMsMax()).isEqualTo(800L);
        assertThat(stats.getFirstEventAt().toInstant()).isEqualTo(MARCH.atStartOfDay().toInstant(ZoneOffset.UTC));
        assertThat(stats.getCallsByProvider().data()).contains("\"openai\": 900");
        assertThat(stats.getLastResetAt()).isNull();

        GetUserUsageStats april = Routines.getUserUsageStats(cfg, user, LocalDate.parse("2026-04-01"));
        assertThat(april.getUsed()).isZero();
        assertThat(april.getCalls()).isZero();
        assertThat(april.getRemaining()).isEqualTo(1070L);
        assertThat(april.getState()).isEqualTo("ok");
        assertThat(april.getCallsByProvider()).isEqualTo(JSONB.valueOf("{}"));
        assertThat(april.getFirstEventAt()).isNull();

        GetUserUsageStats stranger = Routines.getUserUsageStats(cfg, UUID.randomUUID(), MARCH);
        assertThat(stranger.getPlan()).isEqualTo("free");
        assertThat(stranger.getEffectiveLimit()).isEqualTo(1000L);
        assertThat(stranger.getState()).isEqualTo("ok");
    }

    @Test
    void userUsageOverviewGivesUsageLimitPercentageAndStatePerMonth() {
        UUID user = UUID.randomUUID();
        Routines.ensureUser(cfg, user);
        insertSummary(user, LocalDate.parse("2026-01-01"), 100, 100, 0, 100);
        insertSummary(user, LocalDate.parse("2026-02-01"), 800, 790, 10, 800);
        insertSummary(user, LocalDate.parse("2026-03-01"), 700, 700, 0, 1001);
        UUID unknown = UUID.randomUUID();
        insertSummary(unknown, MARCH, 5, 5, 0, 5);

        var rows = dsl.selectFrom(USER_USAGE_OVERVIEW).where(USER_USAGE_OVERVIEW.USER_ID.eq(user))
                .orderBy(USER_USAGE_OVERVIEW.MONTH).fetch();
        assertThat(rows).extracting(r -> r.getUsed()).containsExactly(100L, 800L, 1001L);
        assertThat(rows).extracting(r -> r.getEffectiveLimit()).containsOnly(1000L);
        assertThat(rows).extracting(r -> r.getRemaining()).containsExactly(900L, 200L, 0L);
        assertThat(rows).extracting(r -> r.getPercentUsed().toPlainString()).containsExactly("10.00", "80.00", "100.10");
        assertThat(rows).extracting(r -> r.getState()).containsExactly("ok", "warning", "exceeded");
        var stranger = dsl.selectFrom(USER_USAGE_OVERVIEW).where(USER_USAGE_OVERVIEW.USER_ID.eq(unknown)).fetchSingle();
        assertThat(stranger.getPlan()).isEqualTo("free");
        assertThat(stranger.getState()).isEqualTo("ok");
    }

    @Test
    void adminUserOverviewShowsEveryUserWithTheCurrentMonth() {
        UUID user = UUID.randomUUID();
        UUID idle = UUID.randomUUID();
        dsl.insertInto(USERS).set(USERS.ID, user).set(USERS.EMAIL, "ada@example.com").execute();
        Routines.ensureUser(cfg, idle);
        Routines.adminSetUserPlan(cfg, "overview-plan", user, "pro");
        Routines.completeReferral(cfg, "overview-ref", user, idle);
        LocalDate currentMonth = dsl.fetchSingle("SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date")
                .get(0, LocalDate.class);
        insertSummary(user, currentMonth, 41_000, 41_000, 0, 41_000);
        insertSummary(user, currentMonth.minusMonths(1), 3, 3, 0, 3);

        var row = dsl.selectFrom(ADMIN_USER_OVERVIEW).where(ADMIN_USER_OVERVIEW.USER_ID.eq(user)).fetchSingle();
        assertThat(row.getEmail()).isEqualTo("ada@example.com");
        assertThat(row.getPlan()).isEqualTo("pro");
        assertThat(row.getPlanUnits()).isEqualTo(50_000L);
        assertThat(row.getReferralCount()).isEqualTo(1);
        assertThat(row.getMultiplier()).isEqualByComparingTo("0.02");
        assertThat(row.getBonusCredits()).isEqualTo(10L);
        assertThat(row.getEffectiveLimit()).isEqualTo(51_010L);
        assertThat(row.getCurrentMonth()).isEqualTo(currentMonth);
        assertThat(row.getCurrentMonthUsed()).isEqualTo(41_000L);
        assertThat(row.getCurrentMonthState()).isEqualTo("warning");
        assertThat(row.getCreatedAt()).isNotNull();

        var idleRow = dsl.selectFrom(ADMIN_USER_OVERVIEW).where(ADMIN_USER_OVERVIEW.USER_ID.eq(idle)).fetchSingle();
        assertThat(idleRow.getEmail()).isNull();
        assertThat(idleRow.getCurrentMonthUsed()).isZero();
        assertThat(idleRow.getCurrentMonthState()).isEqualTo("ok");
    }

    private static void insertSummary(UUID user, LocalDate month, long calls, long ok, long failed, long units) {
        OffsetDateTime first = month.atStartOfDay().atOffset(ZoneOffset.UTC);
        dsl.insertInto(MONTHLY_USAGE_SUMMARY)
                .set(MONTHLY_USAGE_SUMMARY.USER_ID, user)
                .set(MONTHLY_USAGE_SUMMARY.MONTH, month)
                .set(MONTHLY_USAGE_SUMMARY.CALLS, calls)
                .set(MONTHLY_USAGE_SUMMARY.UNITS, units)
                .set(MONTHLY_USAGE_SUMMARY.SUCCESSFUL_CALLS, ok)
                .set(MONTHLY_USAGE_SUMMARY.FAILED_CALLS, failed)
                .set(MONTHLY_USAGE_SUMMARY.TOKENS, 12_345L)
                .set(MONTHLY_USAGE_SUMMARY.REQUEST_BYTES, 1_000L)
                .set(MONTHLY_USAGE_SUMMARY.RESPONSE_BYTES, 9_000L)
                .set(MONTHLY_USAGE_SUMMARY.RESPONSE_TIME_MS_SUM, calls * 100)
                .set(MONTHLY_USAGE_SUMMARY.RESPONSE_TIME_MS_MAX, 800L)
                .set(MONTHLY_USAGE_SUMMARY.FIRST_EVENT_AT, first)
                .set(MONTHLY_USAGE_SUMMARY.LAST_EVENT_AT, first.plusDays(10))
                .set(MONTHLY_USAGE_SUMMARY.CALLS_BY_PROVIDER,
                        JSONB.valueOf("{\"openai\": " + (calls - 30) + ", \"github\": 30}"))
                .execute();
    }

    private static String storedResult(String commandId) {
        return dsl.fetchValue(APPLIED_COMMANDS.RESULT, APPLIED_COMMANDS.COMMAND_ID.eq(commandId)).data();
    }
}
