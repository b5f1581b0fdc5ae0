package io.usagemeter.schema.sync;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The live-catalog diff between two real PostgreSQL servers migrated from the same files. */
class SchemaDiffTest {

    static TestStack devServer;
    static TestStack prodServer;
    static Path migrations;

    @BeforeAll
    static void startServers(@TempDir Path temp) {
        devServer = TestStack.withSharedBroker();
        prodServer = TestStack.withSharedBroker();
        migrations = TestMigrations.copy(temp.resolve("migrations"), "base");
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

    private final SchemaDiff diff = new SchemaDiff(List.of("public"));

    /** Fresh databases on both servers, migrated identically. */
    static List<DatabaseEnvironment> migrated(String db) {
        List<DatabaseEnvironment> envs = List.of(
                new DatabaseEnvironment("dev", devServer.recreateDatabase(db), devServer.user(), devServer.password()),
                new DatabaseEnvironment("prod", prodServer.recreateDatabase(db), prodServer.user(), prodServer.password()));
        new SchemaMigrator(MigrationSource.directory(migrations)).sync(envs);
        return envs;
    }

    @Test
    void identicalDatabasesHaveNoDifferences() {
        List<DatabaseEnvironment> envs = migrated("same");
        assertThat(diff.compare(envs.get(0), envs.get(1))).isEmpty();
    }

    @Test
    void aColumnAddedByHandInProdShows() throws SQLException {
        List<DatabaseEnvironment> envs = migrated("column_added");
        execute(envs.get(1), "ALTER TABLE accounts ADD COLUMN nickname text");
        assertThat(lines(envs)).containsExactly("prod has column accounts.nickname text (not in dev)");
    }

    @Test
    void anIndexDroppedInDevShows() throws SQLException {
        List<DatabaseEnvironment> envs = migrated("index_dropped");
        execute(envs.get(0), "DROP INDEX idx_accounts_created_at");
        assertThat(lines(envs)).containsExactly("index idx_accounts_created_at missing in dev");
    }

    @Test
    void aFunctionBodyChangedInProdShows() throws SQLException {
        List<DatabaseEnvironment> envs = migrated("function_changed");
        execute(envs.get(1), """
                CREATE OR REPLACE FUNCTION account_credits(p_id uuid) RETURNS integer
                    LANGUAGE sql STABLE AS $$ SELECT credits + 1 FROM accounts WHERE id = p_id $$""");
        assertThat(lines(envs)).containsExactly("function account_credits(uuid) differs");
    }

    @Test
    void columnDetailsConstraintsTriggersViewsAndPartitionsShow() throws SQLException {
        List<DatabaseEnvironment> envs = migrated("many");
        execute(envs.get(0), """
                ALTER TABLE accounts ALTER COLUMN plan SET DEFAULT 'pro';
                ALTER TABLE accounts DROP CONSTRAINT accounts_credits_check;
                ALTER TABLE accounts ADD CONSTRAINT accounts_credits_check CHECK (credits <= 1000);
                DROP TRIGGER accounts_touch ON accounts;
                CREATE OR REPLACE VIEW account_usage AS
                    SELECT a.id, count(c.units) AS units FROM accounts a LEFT JOIN calls c ON c.account_id = a.id GROUP BY a.id;
                CREATE TABLE calls_p2025_02 PARTITION OF calls FOR VALUES FROM ('2025-02-01') TO ('2025-03-01');
                CREATE TABLE dev_only (id int PRIMARY KEY);
                """);
        execute(envs.get(1), "ALTER TABLE accounts ALTER COLUMN email DROP NOT NULL");
        assertThat(lines(envs)).containsExactlyInAnyOrder(
                "table dev_only missing in prod",
                "column accounts.plan differs: dev text not null default cast('pro' as text); prod text not null default cast('free' as text)",
                "column accounts.email differs: dev text not null; prod text null",
                "constraint accounts.accounts_credits_check differs: dev CHECK ((credits <= 1000)); prod CHECK ((credits >= 0))",
                "trigger accounts.accounts_touch missing in dev",
                "view account_usage differs",
                "partition calls_p2025_02 missing in prod");
    }

    private List<String> lines(List<DatabaseEnvironment> envs) {
        return diff.compare(envs.get(0), envs.get(1)).stream().map(SchemaDifference::line).toList();
    }

    private static void execute(DatabaseEnvironment env, String sql) throws SQLException {
        try (Connection c = DatabaseConnector.connect(env); Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
