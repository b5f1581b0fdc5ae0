package io.usagemeter.schema;

import static io.usagemeter.schema.jooq.Tables.API_USAGE;
import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static io.usagemeter.schema.jooq.Tables.USER_TOKENS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.schema.jooq.Routines;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import org.flywaydb.core.api.MigrationInfo;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class MigrationsTest {

    private static MigratedDatabase db;
    private static DSLContext dsl;

    @BeforeAll
    static void migrate() {
        db = MigratedDatabase.start();
        dsl = db.dsl();
    }

    @AfterAll
    static void stop() {
        if (db != null) {
            db.close();
        }
    }

    @Test
    void allMigrationsApplyOnAnEmptyDatabaseAndASecondRunIsANoOp() {
        assertThat(db.migrationsApplied()).isEqualTo(12);
        var flyway = FlywayMigrations.flyway(db.dataSource());
        assertThat(flyway.info().applied()).extracting(MigrationInfo::getScript).containsExactly(
                "V1__initial_setup.sql", "V2__token_encryption.sql", "V3__api_usage_tracking.sql",
                "V4__referral_system.sql", "V5__pipeline_support.sql", "V6__api_keys.sql",
                "V7__summary_source_offset.sql", "V8__correct_table_comments.sql", "V9__webhooks.sql",
                "V10__admin_panel_indexes.sql", "V11__admin_reports.sql", "V12__admin_report_rows.sql");
        assertThat(flyway.validateWithResult().validationSuccessful).isTrue();
        assertThat(flyway.migrate().migrationsExecuted).isZero();
    }

    @Test
    void theSchemaHoldsTheExpectedTablesViewsFunctionsAndOnlyTheDerivedRowsTriggers() {
        List<String> tables = names(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        + "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                        + "ORDER BY 1");
        assertThat(tables).containsExactly("analytics_events", "api_keys", "api_usage", "api_usage_daily", "applied_commands",
                "flyway_schema_history", "monthly_usage_state", "monthly_usage_summary", "sink_offsets", "subscription_limits", "usage_resets", "user_referrals",
                "user_sessions", "user_tokens", "users", "webhook_attempts", "webhook_deliveries", "webhook_endpoints");
        List<String> views = names(
                "SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY 1");
        assertThat(views).containsExactly("admin_user_overview", "user_usage_overview");
        List<String> functions = names(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                        + "WHERE n.nspname = 'public' ORDER BY 1");
        assertThat(functions).containsExactly("admin_add_bonus_credits", "admin_reset_user_usage",
                "admin_set_user_plan", "api_usage_daily_add", "api_usage_daily_of_events", "applied_command_result",
                "complete_referral", "effective_limit", "ensure_api_usage_partition", "ensure_user",
                "get_user_usage_stats", "monthly_usage_state_of_plans", "monthly_usage_state_of_summaries",
                "monthly_usage_state_of_truncated_summaries", "monthly_usage_state_of_users",
                "monthly_usage_state_refresh_limits", "new_referral_code", "record_applied_command",
                "referral_multiplier", "usage_state");
        // No trigger computes a summary: the only ones keep V12's derived rows, statement by statement.
        List<String> triggers = names(
                "SELECT c.relname || ' ' || t.tgname || ' ' || p.proname FROM pg_trigger t "
                        + "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
                        + "WHERE NOT t.tgisinternal AND NOT c.relispartition ORDER BY 1");
        assertThat(triggers).containsExactly(
                "api_usage api_usage_daily_on_delete api_usage_daily_of_events",
                "api_usage api_usage_daily_on_insert api_usage_daily_of_events",
                "api_usage api_usage_daily_on_truncate api_usage_daily_of_events",
                "api_usage api_usage_daily_on_update api_usage_daily_of_events",
                "monthly_usage_summary monthly_usage_state_on_delete monthly_usage_state_of_summaries",
                "monthly_usage_summary monthly_usage_state_on_insert monthly_usage_state_of_summaries",
                "monthly_usage_summary monthly_usage_state_on_truncate monthly_usage_state_of_truncated_summaries",
                "monthly_usage_summary monthly_usage_state_on_update monthly_usage_state_of_summaries",
                "subscription_limits monthly_usage_state_on_plan_update monthly_usage_state_of_plans",
                "users monthly_usage_state_on_user_delete monthly_usage_state_of_users",
                "users monthly_usage_state_on_user_insert monthly_usage_state_of_users",
                "users monthly_usage_state_on_user_truncate monthly_usage_state_of_users",
                "users monthly_usage_state_on_user_update monthly_usage_state_of_users");
        assertThat(dsl.fetchCount(DSL.table("pg_trigger"), DSL.condition("NOT tgisinternal AND tgtype & 1 = 1")))
                .as("row-level triggers").isZero();
        List<String> uncommented = names(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        + "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v') "
                        + "AND c.relname <> 'flyway_schema_history' AND obj_description(c.oid, 'pg_class') IS NULL");
        assertThat(uncommented).isEmpty();
    }

    @Test
    void tableCommentsDescribeWhatThePipelineDoes() {
        assertThat(names("SELECT obj_description('api_usage'::regclass, 'pg_class')").get(0))
                .startsWith("One row per (user_id, event_id): the first copy").contains("within 36 days");
        assertThat(names("SELECT obj_description('monthly_usage_summary'::regclass, 'pg_class')").get(0))
                .contains("only by a summary from a later offset of the same partition");
        assertThat(names("SELECT obj_description('user_tokens'::regclass, 'pg_class')").get(0))
                .contains("meter tokens migrate-legacy");
    }

    @Test
    void webhookEndpointsTakeOnlyHttpUrlsAndKnownEventTypesAndADeliveryIsLoggedOncePerEndpoint() {
        UUID endpoint = UUID.randomUUID();
        String insertEndpoint = "INSERT INTO webhook_endpoints (id, url, event_types, secret_sealed, secret_key_id)"
                + " VALUES (?, ?, ?::text[], '\\x01'::bytea, 1)";
        dsl.execute(insertEndpoint, endpoint, "https://hooks.example.com/x", "{limit.warning}");
        assertThatThrownBy(() -> dsl.execute(insertEndpoint, UUID.randomUUID(), "ftp://hooks.example.com/x", "{limit.warning}"))
                .isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> dsl.execute(insertEndpoint, UUID.randomUUID(), "https://hooks.example.com/x", "{limit.nearly}"))
                .isInstanceOf(DataAccessException.class);

        String insertDelivery = "INSERT INTO webhook_deliveries (id, endpoint_id, message_id, event_type, user_id, payload,"
                + " status, next_attempt_at, created_at) VALUES (?, ?, 'msg_1', 'limit.warning', ?, '{}', 'pending', now(), now())";
        dsl.execute(insertDelivery, UUID.randomUUID(), endpoint, UUID.randomUUID());
        assertThatThrownBy(() -> dsl.execute(insertDelivery, UUID.randomUUID(), endpoint, UUID.randomUUID()))
                .as("the same message for the same endpoint").isInstanceOf(DataAccessException.class);
        dsl.execute("DELETE FROM webhook_endpoints WHERE id = ?", endpoint);
        assertThat(dsl.fetchCount(DSL.table("webhook_deliveries"))).as("the log goes with its endpoint").isZero();
    }

    @Test
    void apiUsageRoutesRowsToTheirUtcMonthPartition() {
        UUID user = UUID.randomUUID();
        insertUsage(user, "e-march", OffsetDateTime.parse("2026-03-31T23:59:59.999999Z"));
        // 23:30 on the last of February at UTC-01:00 is already March in UTC.
        insertUsage(user, "e-march-offset", OffsetDateTime.parse("2026-02-28T23:30:00-01:00"));
        insertUsage(user, "e-april", OffsetDateTime.parse("2026-04-01T00:00:00Z"));
        insertUsage(user, "e-2023", OffsetDateTime.parse("2023-06-15T12:00:00Z"));

        assertThat(partitionOf(user, "e-march")).isEqualTo("api_usage_p202603");
        assertThat(partitionOf(user, "e-march-offset")).isEqualTo("api_usage_p202603");
        assertThat(partitionOf(user, "e-april")).isEqualTo("api_usage_p202604");
        assertThat(partitionOf(user, "e-2023")).isEqualTo("api_usage_pdefault");
        assertThat(monthlyPartitions()).hasSize(48).first().isEqualTo("api_usage_p202401");
        assertThat(monthlyPartitions()).last().isEqualTo("api_usage_p202712");
    }

    @Test
    void apiUsageRejectsADuplicateEventOfTheSameUserAndTime() {
        UUID user = UUID.randomUUID();
        OffsetDateTime at = OffsetDateTime.parse("2026-05-02T10:00:00Z");
        insertUsage(user, "dup-1", at);

        assertThatThrownBy(() -> insertUsage(user, "dup-1", at))
                .isInstanceOf(IntegrityConstraintViolationException.class)
                .hasMessageContaining("api_usage_p202605_pkey");
        // The sink's retry: the same row again is a no-op on the primary key.
        int inserted = dsl.insertInto(API_USAGE)
                .set(usageRow(user, "dup-1", at))
                .onConflictDoNothing()
                .execute();
        assertThat(inserted).isZero();
        // Another user may use the same event id.
        insertUsage(UUID.randomUUID(), "dup-1", at);
        assertThat(dsl.fetchCount(API_USAGE, API_USAGE.EVENT_ID.eq("dup-1"))).isEqualTo(2);
    }

    @Test
    void apiUsageEnforcesTheEventContract() {
        UUID user = UUID.randomUUID();
        OffsetDateTime at = OffsetDateTime.parse("2026-05-02T10:00:00Z");
        assertRejected(dsl.insertInto(API_USAGE).set(usageRow(user, "x".repeat(129), at)));
        assertRejected(dsl.insertInto(API_USAGE).set(usageRow(user, "", at)));
        assertRejected(dsl.insertInto(API_USAGE).set(usageRow(user, "p", at)).set(API_USAGE.PROVIDER, "azure"));
        assertRejected(dsl.insertInto(API_USAGE).set(usageRow(user, "s", at)).set(API_USAGE.STATUS_CODE, 600));
        assertRejected(dsl.insertInto(API_USAGE).set(usageRow(user, "u", at)).set(API_USAGE.UNITS, 0L));
        assertRejected(dsl.insertInto(API_USAGE).set(usageRow(user, "t", at)).set(API_USAGE.TOKENS, -1L));
        assertRejected(dsl.insertInto(API_USAGE).set(usageRow(user, "e", at)).set(API_USAGE.ENDPOINT, "/".repeat(513)));

        insertUsage(user, "defaults", at);
        var row = dsl.selectFrom(API_USAGE).where(API_USAGE.USER_ID.eq(user)).fetchSingle();
        assertThat(row.getTokens()).isZero();
        assertThat(row.getUnits()).isEqualTo(1L);
        assertThat(row.getIngestedAt()).isNotNull();
    }

    @Test
    void ensureApiUsagePartitionIsIdempotentAndAdoptsRowsFromTheDefaultPartition() {
        UUID user = UUID.randomUUID();
        insertUsage(user, "far-future", OffsetDateTime.parse("2031-05-17T08:00:00Z"));
        assertThat(partitionOf(user, "far-future")).isEqualTo("api_usage_pdefault");
        int before = monthlyPartitions().size();

        assertThat(Routines.ensureApiUsagePartition(dsl.configuration(), LocalDate.parse("2031-05-17"))).isTrue();
        assertThat(Routines.ensureApiUsagePartition(dsl.configuration(), LocalDate.parse("2031-05-01"))).isFalse();
        assertThat(Routines.ensureApiUsagePartition(dsl.configuration(), LocalDate.parse("2026-01-01"))).isFalse();

        assertThat(monthlyPartitions()).hasSize(before + 1).contains("api_usage_p203105");
        assertThat(partitionOf(user, "far-future")).isEqualTo("api_usage_p203105");
        insertUsage(user, "far-future-2", OffsetDateTime.parse("2031-05-31T23:59:59Z"));
        assertThat(partitionOf(user, "far-future-2")).isEqualTo("api_usage_p203105");
        assertThat(partitionOf(user, "far-future")).isEqualTo("api_usage_p203105");
    }

    @Test
    void monthlySummaryHoldsItsInvariants() {
        UUID user = UUID.randomUUID();
        assertRejected(dsl.insertInto(MONTHLY_USAGE_SUMMARY)
                .set(MONTHLY_USAGE_SUMMARY.USER_ID, user)
                .set(MONTHLY_USAGE_SUMMARY.MONTH, LocalDate.parse("2026-03-02")));
        assertRejected(dsl.insertInto(MONTHLY_USAGE_SUMMARY)
                .set(MONTHLY_USAGE_SUMMARY.USER_ID, user)
                .set(MONTHLY_USAGE_SUMMARY.MONTH, LocalDate.parse("2026-03-01"))
                .set(MONTHLY_USAGE_SUMMARY.CALLS, 3L)
                .set(MONTHLY_USAGE_SUMMARY.SUCCESSFUL_CALLS, 1L)
                .set(MONTHLY_USAGE_SUMMARY.FAILED_CALLS, 1L));
        assertRejected(dsl.insertInto(MONTHLY_USAGE_SUMMARY)
                .set(MONTHLY_USAGE_SUMMARY.USER_ID, user)
                .set(MONTHLY_USAGE_SUMMARY.MONTH, LocalDate.parse("2026-03-01"))
                .set(MONTHLY_USAGE_SUMMARY.TOKENS, -5L));
    }

    @Test
    void userTokensHoldTinkAndLegacyRowsOncePerProvider() {
        UUID user = UUID.randomUUID();
        Routines.ensureUser(dsl.configuration(), user);
        dsl.insertInto(USER_TOKENS)
                .set(USER_TOKENS.USER_ID, user)
                .set(USER_TOKENS.PROVIDER, "openai")
                .set(USER_TOKENS.CIPHERTEXT, new byte[] {1, 2, 3})
                .set(USER_TOKENS.KEY_ID, 123456789L)
                .execute();
        dsl.insertInto(USER_TOKENS)
                .set(USER_TOKENS.USER_ID, user)
                .set(USER_TOKENS.PROVIDER, "github")
                .set(USER_TOKENS.CIPHERTEXT, new byte[] {4, 5})
                .set(USER_TOKENS.NONCE, new byte[16])
                .set(USER_TOKENS.KEY_ID, 0L)
                .set(USER_TOKENS.SCHEME, "legacy-aes256-cbc")
                .execute();

        assertThat(dsl.fetchValue(USER_TOKENS.SCHEME, USER_TOKENS.PROVIDER.eq("openai").and(USER_TOKENS.USER_ID.eq(user))))
                .isEqualTo("tink-aes256-gcm");
        assertRejected(dsl.insertInto(USER_TOKENS)
                .set(USER_TOKENS.USER_ID, user)
                .set(USER_TOKENS.PROVIDER, "openai")
                .set(USER_TOKENS.CIPHERTEXT, new byte[] {9})
                .set(USER_TOKENS.KEY_ID, 1L));
        assertRejected(dsl.insertInto(USER_TOKENS)
                .set(USER_TOKENS.USER_ID, user)
                .set(USER_TOKENS.PROVIDER, "other")
                .set(USER_TOKENS.CIPHERTEXT, new byte[] {9})
                .set(USER_TOKENS.KEY_ID, 1L));
    }

    private static void insertUsage(UUID user, String eventId, OffsetDateTime occurredAt) {
        dsl.insertInto(API_USAGE).set(usageRow(user, eventId, occurredAt)).execute();
    }

    private static io.usagemeter.schema.jooq.tables.records.ApiUsageRecord usageRow(
            UUID user, String eventId, OffsetDateTime occurredAt) {
        var row = dsl.newRecord(API_USAGE);
        row.setEventId(eventId);
        row.setUserId(user);
        row.setOccurredAt(occurredAt);
        row.setProvider("openai");
        row.setEndpoint("/v1/chat/completions");
        row.setMethod("POST");
        row.setStatusCode(200);
        row.setResponseTimeMs(120L);
        row.setRequestBytes(300L);
        row.setResponseBytes(2048L);
        return row;
    }

    private static String partitionOf(UUID user, String eventId) {
        return dsl.select(DSL.field("tableoid::regclass::text", String.class))
                .from(API_USAGE)
                .where(API_USAGE.USER_ID.eq(user), API_USAGE.EVENT_ID.eq(eventId))
                .fetchSingle()
                .value1();
    }

    private static List<String> monthlyPartitions() {
        return names("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                + "WHERE i.inhparent = 'api_usage'::regclass AND c.relname <> 'api_usage_pdefault' ORDER BY 1");
    }

    private static List<String> names(String sql) {
        return dsl.fetch(sql).getValues(0, String.class);
    }

    private static void assertRejected(org.jooq.Query query) {
        assertThatThrownBy(query::execute).isInstanceOf(DataAccessException.class);
    }
}
