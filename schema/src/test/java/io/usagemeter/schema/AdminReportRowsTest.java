package io.usagemeter.schema;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.jooq.Routines;
import java.sql.Connection;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.Result;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * V12's derived rows against what the base tables say, after each kind of write the pipeline makes: the sink's
 * upserts under its offset rule and its redelivered batches, a reset lowering a month, a tombstone, a replay's
 * repairs (rows rewritten, removed, inserted), the enforcer writer's referral, credits and plan, a plan's units,
 * users appearing after their events, rows moved between partitions, truncations; and a summary written while the
 * user's entitlement changes in another transaction.
 */
class AdminReportRowsTest {

    private static final LocalDate MARCH = LocalDate.parse("2026-03-01");
    private static final LocalDate APRIL = LocalDate.parse("2026-04-01");

    private static MigratedDatabase db;
    private static DSLContext dsl;

    @BeforeAll
    static void migrate() {
        db = MigratedDatabase.start();
        dsl = db.dsl();
        dsl.execute("INSERT INTO subscription_limits (plan, monthly_units) VALUES ('zero', 0)");
    }

    @AfterAll
    static void stop() {
        db.close();
    }

    /**
     * {@code monthly_usage_state} as the base tables give it: every summary with today's limit of its user (free for
     * a user without a row, as {@code user_usage_overview} has it), state and percentage by the V4 rules.
     */
    private static void assertStateRowsAreTheBaseTables() {
        Result<Record> expected = dsl.fetch("""
                SELECT s.month, s.user_id, s.calls, s.units AS used, v.effective_limit, u.id IS NOT NULL AS listed,
                       v.state, v.percent_used
                FROM monthly_usage_summary s
                JOIN user_usage_overview v ON v.user_id = s.user_id AND v.month = s.month
                LEFT JOIN users u ON u.id = s.user_id
                ORDER BY 1, 2""");
        Result<Record> derived = dsl.fetch("""
                SELECT month, user_id, calls, used, effective_limit, listed, state, percent_used
                FROM monthly_usage_state ORDER BY 1, 2""");
        assertThat(derived.intoArrays()).isDeepEqualTo(expected.intoArrays());
    }

    private static void assertDailyCountsAreTheEvents() {
        List<List<Object>> expected = dsl.fetch("""
                SELECT (occurred_at AT TIME ZONE 'UTC')::date, provider, count(*)
                FROM api_usage GROUP BY 1, 2 ORDER BY 1, 2""").map(r -> List.of(r.get(0), r.get(1), r.get(2, Long.class)));
        List<List<Object>> counted = dsl.fetch("""
                SELECT day, provider, sum(events) FROM api_usage_daily GROUP BY 1, 2 HAVING sum(events) <> 0
                ORDER BY 1, 2""").map(r -> List.of(r.get(0), r.get(1), r.get(2, Long.class)));
        assertThat(counted).isEqualTo(expected);
    }

    private static void upsertSummary(UUID user, LocalDate month, long units, long offset) {
        // The sink's statement: absolute values, overwritten only from a later offset of the partition.
        dsl.execute("""
                INSERT INTO monthly_usage_summary AS s (user_id, month, calls, units, successful_calls, failed_calls,
                                                       source_partition, source_offset)
                VALUES (?::uuid, ?::date, ?::bigint, ?::bigint, ?::bigint, 0, 0, ?::bigint)
                ON CONFLICT (user_id, month) DO UPDATE SET calls = excluded.calls, units = excluded.units,
                    successful_calls = excluded.successful_calls, source_partition = excluded.source_partition,
                    source_offset = excluded.source_offset
                WHERE s.source_offset IS NULL OR s.source_offset < excluded.source_offset""",
                user, month, units / 2 + 1, units, units / 2 + 1, offset);
    }

    private static UUID user(String plan) {
        UUID id = UUID.randomUUID();
        dsl.execute("INSERT INTO users (id, plan) VALUES (?, ?)", id, plan);
        return id;
    }

    @Test
    void theStateRowsFollowEveryWriteOfTheSummariesTheUsersAndThePlans() {
        UUID free = user("free");
        UUID pro = user("pro");
        UUID zero = user("zero");
        UUID stranger = UUID.randomUUID();
        upsertSummary(free, MARCH, 850, 1);
        upsertSummary(pro, MARCH, 10, 2);
        upsertSummary(zero, MARCH, 0, 3);
        upsertSummary(stranger, MARCH, 999, 4);
        upsertSummary(free, APRIL, 1000, 5);
        assertStateRowsAreTheBaseTables();
        assertThat(dsl.fetchValue("SELECT state FROM monthly_usage_state WHERE user_id = ? AND month = ?", free, MARCH))
                .isEqualTo("warning");

        upsertSummary(free, MARCH, 1200, 6);         // a later summary
        upsertSummary(free, MARCH, 1, 5);            // an older one: the sink's rule skips it
        upsertSummary(pro, MARCH, 0, 7);             // a reset lowers the month
        assertStateRowsAreTheBaseTables();
        assertThat(dsl.fetchValue("SELECT used FROM monthly_usage_state WHERE user_id = ? AND month = ?", free, MARCH))
                .isEqualTo(1200L);

        var cfg = dsl.configuration();
        Routines.adminAddBonusCredits(cfg, "credits-1", free, 500L);
        Routines.adminAddBonusCredits(cfg, "credits-1", free, 500L); // redelivered: applied once
        Routines.completeReferral(cfg, "referral-1", pro, UUID.randomUUID());
        Routines.adminSetUserPlan(cfg, "plan-1", zero, "team");
        Routines.ensureUser(cfg, stranger);          // the user's row after their events
        assertStateRowsAreTheBaseTables();
        assertThat(dsl.fetchValue("SELECT effective_limit FROM monthly_usage_state WHERE user_id = ? AND month = ?",
                free, MARCH)).isEqualTo(1500L);

        dsl.execute("UPDATE subscription_limits SET monthly_units = 2000 WHERE plan = 'free'");
        dsl.execute("UPDATE subscription_limits SET plan = 'gratis' WHERE plan = 'free'"); // cascades to users.plan
        assertStateRowsAreTheBaseTables();
        dsl.execute("UPDATE subscription_limits SET plan = 'free' WHERE plan = 'gratis'");
        dsl.execute("UPDATE subscription_limits SET monthly_units = 1000 WHERE plan = 'free'");

        dsl.execute("DELETE FROM monthly_usage_summary WHERE user_id = ? AND month = ?", free, APRIL); // a tombstone
        dsl.execute("UPDATE monthly_usage_summary SET units = 3, calls = 2, successful_calls = 2 WHERE user_id = ?", pro);
        dsl.execute("DELETE FROM users WHERE id = ?", stranger);
        assertStateRowsAreTheBaseTables();
        assertThat(dsl.fetchValue("SELECT listed FROM monthly_usage_state WHERE user_id = ?", stranger)).isEqualTo(false);

        dsl.execute("TRUNCATE users CASCADE");
        assertStateRowsAreTheBaseTables();
        dsl.execute("TRUNCATE monthly_usage_summary");
        assertStateRowsAreTheBaseTables();
        assertThat(dsl.fetchCount(DSL.table("monthly_usage_state"))).isZero();
    }

    private static void insertEvents(UUID user, String prefix, int from, int to, String provider, String conflict) {
        dsl.execute("""
                INSERT INTO api_usage (event_id, user_id, occurred_at, provider, endpoint, method, status_code,
                                       response_time_ms, request_bytes, response_bytes)
                SELECT ?::text || i, ?::uuid, timestamptz '2026-03-31 20:00:00+00' + i * interval '10 minutes', ?::text, '/v1', 'GET',
                       200, 1, 1, 1
                FROM generate_series(?::int, ?::int) AS i""" + conflict, prefix, user, provider, from, to);
    }

    @Test
    void theDailyCountsAreTheRowsOfApiUsageThroughRedeliveriesRepairsAndPartitionMoves() {
        dsl.execute("SET TIME ZONE 'Asia/Tokyo'"); // days are UTC days whatever the session's zone
        try {
            UUID user = UUID.randomUUID();
            insertEvents(user, "e-", 1, 60, "openai", "");
            insertEvents(user, "e-", 40, 80, "openai", " ON CONFLICT DO NOTHING"); // a redelivered batch, overlapping
            assertDailyCountsAreTheEvents();
            assertThat(dsl.fetchSingle("SELECT sum(events) FROM api_usage_daily").get(0, Long.class)).isEqualTo(80L);

            // A replay's repair: rows rewritten (another provider), removed, inserted again.
            dsl.execute("UPDATE api_usage SET provider = 'github' WHERE user_id = ? AND event_id IN ('e-1', 'e-30')", user);
            dsl.execute("DELETE FROM api_usage WHERE user_id = ? AND event_id IN ('e-2', 'e-50', 'e-51')", user);
            insertEvents(user, "e-", 50, 50, "openai", " ON CONFLICT DO NOTHING");
            // A row moved to another day by hand.
            dsl.execute("UPDATE api_usage SET occurred_at = occurred_at + interval '3 days' WHERE user_id = ? AND event_id = 'e-3'", user);
            assertDailyCountsAreTheEvents();

            // A month without a partition goes to the default partition, and moves when its partition is made.
            dsl.execute("""
                    INSERT INTO api_usage (event_id, user_id, occurred_at, provider, endpoint, method, status_code,
                                           response_time_ms, request_bytes, response_bytes)
                    VALUES ('far', ?, '2031-07-04 12:00:00+00', 'gemini', '/', 'GET', 200, 1, 1, 1)""", user);
            Routines.ensureApiUsagePartition(dsl.configuration(), LocalDate.parse("2031-07-01"));
            assertDailyCountsAreTheEvents();

            dsl.execute("TRUNCATE api_usage");
            assertDailyCountsAreTheEvents();
            assertThat(dsl.fetchCount(DSL.table("api_usage_daily"))).isZero();
        } finally {
            dsl.execute("RESET TIME ZONE");
        }
    }

    @Test
    void aSummaryWrittenWhileTheEntitlementChangesEndsWithBoth() throws Exception {
        UUID first = user("free");
        UUID second = user("free");
        try (Connection sinkConnection = db.dataSource().getConnection();
             Connection writerConnection = db.dataSource().getConnection()) {
            DSLContext sink = DSL.using(sinkConnection, SQLDialect.POSTGRES);
            DSLContext writer = DSL.using(writerConnection, SQLDialect.POSTGRES);

            // The sink's summary first, the enforcer's credits while it is not committed: the credits wait for it.
            sinkConnection.setAutoCommit(false);
            sink.execute("INSERT INTO monthly_usage_summary (user_id, month, calls, units, successful_calls, failed_calls) "
                    + "VALUES (?, ?, 1, 900, 1, 0)", first, MARCH);
            CompletableFuture<Void> credits = CompletableFuture.runAsync(() ->
                    Routines.adminAddBonusCredits(writer.configuration(), "race-1", first, 1000L));
            assertThat(waitsOrEnds(credits)).as("the credits wait for the summary's transaction").isFalse();
            sinkConnection.commit();
            credits.get(30, TimeUnit.SECONDS);
            assertStateRowsAreTheBaseTables();
            assertThat(dsl.fetchValue("SELECT effective_limit FROM monthly_usage_state WHERE user_id = ?", first))
                    .isEqualTo(2000L);

            // The enforcer's plan first, the sink's summary while it is not committed.
            writerConnection.setAutoCommit(false);
            Routines.adminSetUserPlan(writer.configuration(), "race-2", second, "pro");
            sinkConnection.setAutoCommit(true);
            CompletableFuture<Void> summary = CompletableFuture.runAsync(() -> sink.execute(
                    "INSERT INTO monthly_usage_summary (user_id, month, calls, units, successful_calls, failed_calls) "
                            + "VALUES (?, ?, 1, 45000, 1, 0)", second, MARCH));
            assertThat(waitsOrEnds(summary)).as("the summary waits for the plan's transaction").isFalse();
            writerConnection.commit();
            summary.get(30, TimeUnit.SECONDS);
            assertStateRowsAreTheBaseTables();
            assertThat(dsl.fetchValue("SELECT state FROM monthly_usage_state WHERE user_id = ?", second)).isEqualTo("warning");
        }
    }

    /** True when {@code work} ends within a second. */
    private static boolean waitsOrEnds(CompletableFuture<Void> work) throws Exception {
        try {
            work.get(Duration.ofSeconds(1).toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        }
    }
}
