package io.usagemeter.schema.sync;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sync, status and validation against two real PostgreSQL servers standing in for dev and prod. */
class SchemaMigratorTest {

    static TestStack devServer;
    static TestStack prodServer;

    @TempDir
    Path temp;

    @BeforeAll
    static void startServers() {
        devServer = TestStack.withSharedBroker();
        prodServer = TestStack.withSharedBroker();
    }

    @AfterAll
    static void stopServers() {
        if (devServer != null) {
            devServer.close();
        }
        if (prodServer != null) {
            prodServer.close();
        }
    }

    /** A fresh empty database named {@code db} on each server. */
    static List<DatabaseEnvironment> freshEnvironments(String db) {
        return List.of(
                new DatabaseEnvironment("dev", devServer.recreateDatabase(db), devServer.user(), devServer.password()),
                new DatabaseEnvironment("prod", prodServer.recreateDatabase(db), prodServer.user(), prodServer.password()));
    }

    @Test
    void bothMigrateFromEmptyAndASecondSyncIsANoOp() {
        List<DatabaseEnvironment> envs = freshEnvironments("from_empty");
        SchemaMigrator migrator = new SchemaMigrator(MigrationSource.directory(TestMigrations.copy(temp, "base")));

        List<SyncOutcome> first = migrator.sync(envs);
        assertThat(first).extracting(SyncOutcome::result)
                .containsExactly(SyncOutcome.Result.APPLIED, SyncOutcome.Result.APPLIED);
        assertThat(first.get(0).applied()).extracting(MigrationStatus::displayName)
                .containsExactly("V1 create accounts", "V2 add calls");
        assertThat(first.get(1).applied()).extracting(MigrationStatus::version).containsExactly("1", "2");

        List<SyncOutcome> second = migrator.sync(envs);
        assertThat(second).extracting(SyncOutcome::result)
                .containsExactly(SyncOutcome.Result.UP_TO_DATE, SyncOutcome.Result.UP_TO_DATE);
        assertThat(second).allSatisfy(o -> assertThat(o.applied()).isEmpty());

        List<EnvironmentStatus> statuses = envs.stream().map(migrator::status).toList();
        assertThat(statuses).allSatisfy(s -> {
            assertThat(s.problems()).isEmpty();
            assertThat(s.migrations()).extracting(MigrationStatus::state)
                    .containsOnly(MigrationStatus.State.APPLIED);
        });
        assertThat(Agreement.of(statuses).disagreements()).isEmpty();
    }

    @Test
    void pendingMigrationsShowAsPendingAndMakeTheEnvironmentsDisagree() {
        List<DatabaseEnvironment> envs = freshEnvironments("pending");
        Path dir = TestMigrations.copy(temp, "base");
        SchemaMigrator migrator = new SchemaMigrator(MigrationSource.directory(dir));
        migrator.sync(List.of(envs.get(0)));

        EnvironmentStatus prod = migrator.status(envs.get(1));
        assertThat(prod.migrations()).extracting(MigrationStatus::state)
                .containsExactly(MigrationStatus.State.PENDING, MigrationStatus.State.PENDING);
        assertThat(prod.problems()).isEmpty();
        assertThat(Agreement.of(List.of(migrator.status(envs.get(0)), prod)).disagreements())
                .containsExactly("V1 create accounts is applied in dev, not in prod",
                        "V2 add calls is applied in dev, not in prod");
    }

    @Test
    void aMigrationEditedAfterApplyIsReportedAndStopsTheSync() throws Exception {
        List<DatabaseEnvironment> envs = freshEnvironments("edited");
        Path dir = TestMigrations.copy(temp, "base");
        SchemaMigrator migrator = new SchemaMigrator(MigrationSource.directory(dir));
        migrator.sync(envs);

        Path v1 = dir.resolve("V1__create_accounts.sql");
        Files.writeString(v1, Files.readString(v1) + "\nCREATE INDEX idx_accounts_plan ON accounts (plan);\n");

        for (DatabaseEnvironment env : envs) {
            EnvironmentStatus status = migrator.status(env);
            assertThat(status.problems()).singleElement().satisfies(p -> {
                assertThat(p.version()).isEqualTo("1");
                assertThat(p.state()).isEqualTo(MigrationStatus.State.EDITED_AFTER_APPLY);
            });
        }
        List<SyncOutcome> outcomes = migrator.sync(envs);
        assertThat(outcomes.get(0).result()).isEqualTo(SyncOutcome.Result.FAILED);
        assertThat(outcomes.get(0).reason()).contains("V1 create accounts").contains("edited after apply");
        assertThat(outcomes.get(1).result()).isEqualTo(SyncOutcome.Result.NOT_ATTEMPTED);
    }

    @Test
    void anAppliedMigrationWhoseFileIsGoneIsReportedMissing() throws Exception {
        List<DatabaseEnvironment> envs = freshEnvironments("missing");
        Path dir = TestMigrations.copy(temp, "base", "later");
        SchemaMigrator migrator = new SchemaMigrator(MigrationSource.directory(dir));
        migrator.sync(envs.subList(0, 1));
        Files.delete(dir.resolve("V3__add_referrals.sql"));

        assertThat(migrator.status(envs.get(0)).problems()).singleElement().satisfies(p -> {
            assertThat(p.displayName()).isEqualTo("V3 add referrals");
            assertThat(p.state()).isEqualTo(MigrationStatus.State.MISSING_FILE);
        });
    }

    @Test
    void aFailingMigrationLeavesBothDatabasesAsTheyWereAndProdIsNotAttempted() throws Exception {
        List<DatabaseEnvironment> envs = freshEnvironments("failing");
        Path dir = TestMigrations.copy(temp, "base");
        new SchemaMigrator(MigrationSource.directory(dir)).sync(envs);
        List<String> devBefore = snapshot(envs.get(0));
        List<String> prodBefore = snapshot(envs.get(1));

        TestMigrations.copy(dir, "failing");
        List<SyncOutcome> outcomes = new SchemaMigrator(MigrationSource.directory(dir)).sync(envs);

        SyncOutcome dev = outcomes.get(0);
        assertThat(dev.result()).isEqualTo(SyncOutcome.Result.FAILED);
        assertThat(dev.applied()).isEmpty();
        assertThat(dev.reason()).contains("V3 broken step failed").contains("division by zero").contains("rolled back");
        assertThat(outcomes.get(1).result()).isEqualTo(SyncOutcome.Result.NOT_ATTEMPTED);
        assertThat(outcomes.get(1).reason()).isEqualTo("not attempted because dev failed");

        assertThat(snapshot(envs.get(0))).isEqualTo(devBefore);
        assertThat(snapshot(envs.get(1))).isEqualTo(prodBefore);
        assertThat(devBefore).noneMatch(line -> line.contains("broken_step") || line.contains("nickname"));
    }

    /** Relations, columns, row counts and Flyway history: what a failed migration must not change. */
    static List<String> snapshot(DatabaseEnvironment env) throws SQLException {
        List<String> lines = new ArrayList<>();
        try (Connection c = DatabaseConnector.connect(env); Statement st = c.createStatement()) {
            collect(st, """
                    SELECT c.relname || ' ' || c.relkind::text FROM pg_class c
                     WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1""", lines);
            collect(st, """
                    SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
                     WHERE table_schema = 'public' ORDER BY 1""", lines);
            collect(st, "SELECT 'accounts rows ' || count(*) FROM accounts", lines);
            collect(st, """
                    SELECT 'history ' || installed_rank || ' ' || coalesce(version, '') || ' ' || success
                      FROM flyway_schema_history ORDER BY installed_rank""", lines);
            lines.add(CatalogSnapshot.read(c, List.of("public")).toString());
        }
        return lines;
    }

    private static void collect(Statement st, String sql, List<String> into) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                into.add(rs.getString(1));
            }
        }
    }
}
