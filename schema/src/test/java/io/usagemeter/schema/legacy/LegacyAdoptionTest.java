package io.usagemeter.schema.legacy;

import static io.usagemeter.schema.jooq.Tables.API_USAGE;
import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static io.usagemeter.schema.jooq.Tables.SUBSCRIPTION_LIMITS;
import static io.usagemeter.schema.jooq.Tables.USERS;
import static io.usagemeter.schema.jooq.Tables.USER_REFERRALS;
import static io.usagemeter.schema.jooq.Tables.USER_SESSIONS;
import static io.usagemeter.schema.jooq.Tables.USER_TOKENS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.jooq.Routines;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.JSONB;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LegacyAdoptionTest {

    private static final UUID ALICE = UUID.fromString("a11ce000-0000-4000-8000-000000000001");
    private static final UUID BOB = UUID.fromString("b0b00000-0000-4000-8000-000000000002");
    private static final UUID CAROL = UUID.fromString("ca201000-0000-4000-8000-000000000003");
    private static final List<String> LEGACY_TABLES = List.of("users", "user_sessions", "analytics_events",
            "user_tokens", "api_usage", "monthly_usage_summary", "subscription_limits", "user_referrals");

    private static TestStack server;

    @BeforeAll
    static void start() {
        server = TestStack.withSharedBroker();
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void adoptsTheOlderDatabaseWithAllItsUsersAndLeavesTheLegacyRowsUnchanged() {
        DataSource ds = olderSystem("adopted");
        DSLContext dsl = DSL.using(ds, SQLDialect.POSTGRES);
        Map<String, String> before = fingerprints(dsl, "public");

        AdoptionReport report = new LegacyAdoption().adopt(ds);

        assertThat(report.schemaVersion()).isEqualTo("12");
        assertThat(report.migrationsApplied()).isEqualTo(12);
        assertThat(report.tables()).extracting(AdoptionReport.TableCopy::table).containsExactly(
                "subscription_limits", "users", "user_sessions", "analytics_events", "user_tokens", "api_usage",
                "monthly_usage_summary", "user_referrals");
        assertThat(report.tables()).extracting(t -> t.table() + "=" + t.copiedRows() + "/" + t.legacyRows())
                .containsExactly("subscription_limits=2/2", "users=3/3", "user_sessions=2/2",
                        "analytics_events=2/2", "user_tokens=1/1", "api_usage=8/8", "monthly_usage_summary=5/5",
                        "user_referrals=1/2");
        assertThat(fingerprints(dsl, LegacyAdoption.LEGACY_SCHEMA)).isEqualTo(before);

        var users = dsl.selectFrom(USERS).fetchMap(USERS.ID);
        assertThat(users).containsOnlyKeys(ALICE, BOB, CAROL);
        assertThat(users.get(ALICE).getEmail()).isEqualTo("alice@example.com");
        assertThat(users.get(ALICE).getPlan()).isEqualTo("pro");
        assertThat(users.get(ALICE).getIsAdmin()).isTrue();
        assertThat(users.get(ALICE).getReferralCode()).isEqualTo("ALICE-01");
        assertThat(users.get(ALICE).getReferralCount()).isEqualTo(1);
        assertThat(users.get(ALICE).getBonusCredits()).isEqualTo(10L);
        assertThat(users.get(ALICE).getCreatedAt()).isEqualTo(OffsetDateTime.parse("2023-11-02T08:00:00Z"));
        assertThat(users.get(BOB).getReferredBy()).isEqualTo(ALICE);
        assertThat(users.get(CAROL).getPlan()).isEqualTo("free");
        assertThat(users.get(CAROL).getBonusCredits()).isEqualTo(25L);
        assertThat(users.get(CAROL).getReferralCode()).hasSize(8);
        assertThat(dsl.fetchValue(SUBSCRIPTION_LIMITS.MONTHLY_UNITS, SUBSCRIPTION_LIMITS.PLAN.eq("pro")))
                .as("the running system's plans win").isEqualTo(20_000L);

        var referral = dsl.selectFrom(USER_REFERRALS).fetchSingle();
        assertThat(referral.getReferrerId()).isEqualTo(ALICE);
        assertThat(referral.getReferredId()).isEqualTo(BOB);
        assertThat(referral.getStatus()).isEqualTo("completed");
        assertThat(referral.getCompletedAt()).isEqualTo(OffsetDateTime.parse("2025-09-15T12:05:00Z"));

        var token = dsl.selectFrom(USER_TOKENS).fetchSingle();
        assertThat(token.getUserId()).isEqualTo(CAROL);
        assertThat(token.getProvider()).isEqualTo("github");
        assertThat(token.getCiphertext())
                .isEqualTo(HexFormat.of().parseHex("9f2c4e6a81b3d5f7092a4c6e8b1d3f50a2c4e6f8193b5d7f"));
        assertThat(token.getNonce()).isEqualTo(HexFormat.of().parseHex("00112233445566778899aabbccddeeff"));
        assertThat(token.getKeyId()).isZero();
        assertThat(token.getScheme()).isEqualTo("legacy-aes256-cbc");

        assertThat(dsl.fetchValue(USER_SESSIONS.REVOKED_AT, USER_SESSIONS.USER_ID.eq(ALICE))).isNull();
        assertThat(dsl.fetchValue(USER_SESSIONS.REVOKED_AT, USER_SESSIONS.USER_ID.eq(BOB)))
                .isEqualTo(OffsetDateTime.parse("2025-10-09T09:00:00Z"));

        assertThat(dsl.fetchCount(API_USAGE, API_USAGE.USER_ID.eq(ALICE))).isEqualTo(4);
        assertThat(dsl.fetchCount(API_USAGE, API_USAGE.USER_ID.eq(BOB))).isEqualTo(2);
        assertThat(dsl.fetchCount(API_USAGE, API_USAGE.USER_ID.eq(CAROL))).isEqualTo(2);
        assertThat(dsl.fetchValue(API_USAGE.PROVIDER, API_USAGE.ENDPOINT.eq("/v1/charges"))).isEqualTo("other");
        assertThat(dsl.fetchSingle("SELECT tableoid::regclass::text FROM api_usage WHERE occurred_at < '2024-01-01'")
                .get(0, String.class)).isEqualTo("api_usage_p202312");

        var october = dsl.selectFrom(MONTHLY_USAGE_SUMMARY).where(MONTHLY_USAGE_SUMMARY.USER_ID.eq(ALICE),
                MONTHLY_USAGE_SUMMARY.MONTH.eq(LocalDate.parse("2025-10-01"))).fetchSingle();
        assertThat(october.getCalls()).isEqualTo(3L);
        assertThat(october.getUnits()).isEqualTo(3L);
        assertThat(october.getSuccessfulCalls()).isEqualTo(2L);
        assertThat(october.getFailedCalls()).isEqualTo(1L);
        assertThat(october.getTokens()).isEqualTo(400L);
        assertThat(october.getResponseTimeMsSum()).isEqualTo(700L + 120L + 2100L);
        assertThat(october.getResponseTimeMsMax()).isEqualTo(2100L);
        assertThat(october.getRequestBytes()).isEqualTo(1800L);
        assertThat(october.getFirstEventAt()).isEqualTo(OffsetDateTime.parse("2025-10-01T10:00:00Z"));
        assertThat(october.getLastEventAt()).isEqualTo(OffsetDateTime.parse("2025-10-31T23:59:59Z"));
        assertThat(october.getCallsByProvider())
                .isEqualTo(JSONB.valueOf("{\"github\": 1, \"openai\": 1, \"anthropic\": 1}"));
        var carolsResetMonth = dsl.selectFrom(MONTHLY_USAGE_SUMMARY).where(MONTHLY_USAGE_SUMMARY.USER_ID.eq(CAROL))
                .fetchSingle();
        assertThat(carolsResetMonth.getCalls()).as("the legacy reset holds").isZero();
        assertThat(carolsResetMonth.getCallsByProvider()).isEqualTo(JSONB.valueOf("{}"));

        var stats = Routines.getUserUsageStats(dsl.configuration(), ALICE, LocalDate.parse("2025-10-01"));
        assertThat(stats.getEffectiveLimit()).isEqualTo(20_400L + 10L);
        assertThat(stats.getUsed()).isEqualTo(3L);

        var flyway = FlywayMigrations.flyway(ds);
        assertThat(flyway.validateWithResult().validationSuccessful).isTrue();
        assertThat(flyway.migrate().migrationsExecuted).isZero();
        assertThat(dsl.fetchSingle("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                + "JOIN pg_proc p ON p.oid = t.tgfoid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal "
                + "AND p.proname NOT IN ('monthly_usage_state_of_summaries', 'monthly_usage_state_of_truncated_summaries', "
                + "'monthly_usage_state_of_users', 'monthly_usage_state_of_plans', 'api_usage_daily_of_events')")
                .get(0, Integer.class)).as("the summary trigger is not carried over (only V12's derived rows have any)").isZero();

        // The old trigger, should anything still fire it, writes legacy rows only.
        dsl.execute("INSERT INTO legacy.api_usage (user_id, provider, endpoint, status_code, created_at) "
                + "VALUES ('" + BOB + "', 'openai', '/v1/models', 200, '2025-10-06 00:00:00')");
        assertThat(dsl.fetchSingle("SELECT total_calls FROM legacy.monthly_usage_summary "
                + "WHERE user_id = '" + BOB + "' AND month = '2025-10'").get(0, Integer.class)).isEqualTo(2);
        assertThat(dsl.fetchValue(MONTHLY_USAGE_SUMMARY.CALLS, MONTHLY_USAGE_SUMMARY.USER_ID.eq(BOB)
                .and(MONTHLY_USAGE_SUMMARY.MONTH.eq(LocalDate.parse("2025-10-01"))))).isEqualTo(1L);

        assertThatThrownBy(() -> new LegacyAdoption().adopt(ds))
                .isInstanceOf(LegacyAdoptionException.class)
                .hasMessageContaining("already managed by Flyway");
    }

    @Test
    void aFailedCopyIsUndoneAndLeavesTheOlderDatabaseAsItWas() {
        DataSource ds = olderSystem("undone");
        DSLContext dsl = DSL.using(ds, SQLDialect.POSTGRES);
        // A plan the older subscription_limits never had: the new users.plan foreign key refuses it.
        dsl.execute("UPDATE users SET plan = 'gold' WHERE email = 'carol@example.com'");
        Map<String, String> before = fingerprints(dsl, "public");

        assertThatThrownBy(() -> new LegacyAdoption().adopt(ds))
                .isInstanceOf(LegacyAdoptionException.class)
                .hasMessageContaining("undone")
                .hasMessageContaining("users_plan_fkey");

        assertThat(fingerprints(dsl, "public")).isEqualTo(before);
        assertThat(dsl.fetchSingle("SELECT to_regnamespace('legacy') IS NULL").get(0, Boolean.class)).isTrue();
        assertThat(dsl.fetchSingle("SELECT to_regclass('public.flyway_schema_history') IS NULL")
                .get(0, Boolean.class)).isTrue();
        assertThat(dsl.fetchSingle("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
                + "AND table_name = 'user_tokens' AND column_name = 'encrypted_token'").get(0, Integer.class))
                .isEqualTo(1);
    }

    @Test
    void refusesADatabaseThatIsNotTheOlderSystems() {
        server.recreateDatabase("stranger");
        DataSource ds = server.dataSource("stranger");
        DSLContext dsl = DSL.using(ds, SQLDialect.POSTGRES);
        dsl.execute("CREATE TABLE users (id uuid PRIMARY KEY, email text)");

        assertThatThrownBy(() -> new LegacyAdoption().adopt(ds))
                .isInstanceOf(LegacyAdoptionException.class)
                .hasMessageContaining("does not look like the older system's database")
                .hasMessageContaining("table api_usage")
                .hasMessageContaining("users.referral_code");
        assertThat(dsl.fetchSingle("SELECT to_regnamespace('legacy') IS NULL").get(0, Boolean.class)).isTrue();
    }

    private static DataSource olderSystem(String database) {
        server.recreateDatabase(database);
        DataSource ds = server.dataSource(database);
        try (InputStream in = LegacyAdoptionTest.class.getResourceAsStream("/legacy/older-system.sql");
             Connection c = ds.getConnection();
             Statement st = c.createStatement()) {
            st.execute(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException | SQLException e) {
            throw new IllegalStateException("could not build the older system's database: " + e.getMessage(), e);
        }
        return ds;
    }

    /** Row count and a digest of every row, per legacy table. */
    private static Map<String, String> fingerprints(DSLContext dsl, String schema) {
        Map<String, String> prints = new LinkedHashMap<>();
        for (String table : LEGACY_TABLES) {
            var row = dsl.fetchSingle("SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    + "FROM " + schema + "." + table + " t");
            prints.put(table, row.get(0, String.class));
        }
        return prints;
    }
}
