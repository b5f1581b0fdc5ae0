package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.embedded.TestStack;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * {@code meter schema} run in-process against two real PostgreSQL servers (dev and prod) that
 * require a password, with the environment injected: exit codes, the report lines, one-line
 * errors, and the password never appearing in output or logs.
 */
class SchemaCommandTest {

    static final String USER = "meter_admin";
    static final String PASSWORD = "Sup3r-S3cret-Pw-7781";

    static EmbeddedPostgresServer devServer;
    static EmbeddedPostgresServer prodServer;
    static ListAppender<ILoggingEvent> logs;

    @TempDir
    Path temp;

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void startServers() throws SQLException, IOException {
        TestStack.requireEmbedded("it makes the embedded servers require a password by rewriting their pg_hba.conf");
        devServer = EmbeddedPostgresServer.start();
        prodServer = EmbeddedPostgresServer.start();
        requirePassword(devServer);
        requirePassword(prodServer);
        // Flyway logs through SLF4J: capture everything it says, down to DEBUG, to check for the password.
        logs = new ListAppender<>();
        logs.start();
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(logs);
        ((Logger) LoggerFactory.getLogger("org.flywaydb")).setLevel(Level.DEBUG);
    }

    @AfterAll
    static void stopServers() {
        if (devServer == null) {
            return;
        }
        assertThat(logs.list).isNotEmpty();
        assertThat(logs.list).allSatisfy(e -> assertThat(e.getFormattedMessage()).doesNotContain(PASSWORD));
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
        devServer.close();
        prodServer.close();
    }

    /** Zonky's server trusts everyone; make our user log in with a password (scram-sha-256). */
    static void requirePassword(EmbeddedPostgresServer server) throws SQLException, IOException {
        try (Connection c = server.dataSource("postgres").getConnection(); Statement st = c.createStatement()) {
            st.execute("CREATE ROLE " + USER + " LOGIN SUPERUSER PASSWORD '" + PASSWORD + "'");
            ResultSet rs = st.executeQuery("SHOW data_directory");
            rs.next();
            Path hba = Path.of(rs.getString(1), "pg_hba.conf");
            Files.writeString(hba, String.join("\n",
                    "host all " + USER + " 127.0.0.1/32 scram-sha-256",
                    "host all " + USER + " ::1/128 scram-sha-256",
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host all all ::1/128 trust", ""));
            st.execute("SELECT pg_reload_conf()");
        }
    }

    /** METER_DB_DEV_* and METER_DB_PROD_* for fresh databases named {@code db} on both servers. */
    static Map<String, String> freshEnvironments(String db) {
        Map<String, String> env = new HashMap<>();
        env.put("METER_DB_DEV_URL", devServer.recreateDatabase(db));
        env.put("METER_DB_DEV_USER", USER);
        env.put("METER_DB_DEV_PASSWORD", PASSWORD);
        env.put("METER_DB_PROD_URL", prodServer.recreateDatabase(db));
        env.put("METER_DB_PROD_USER", USER);
        env.put("METER_DB_PROD_PASSWORD", PASSWORD);
        return env;
    }

    /** Runs one {@code meter} command line in-process; the password must never be in what it prints. */
    static Run meter(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = Meter.commandLine(env);
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        Run run = new Run(cmd.execute(args), out.toString(), err.toString());
        assertThat(run.out() + run.err()).doesNotContain(PASSWORD);
        return run;
    }

    Path migrations(String... folders) throws IOException, URISyntaxException {
        Path dir = Files.createDirectories(temp.resolve("migrations"));
        for (String folder : folders) {
            Path source = Path.of(getClass().getResource("/schema-migrations/" + folder).toURI());
            try (Stream<Path> files = Files.list(source)) {
                for (Path file : files.toList()) {
                    Files.copy(file, dir.resolve(file.getFileName()));
                }
            }
        }
        return dir;
    }

    @Test
    void syncMigratesBothFromEmptyThenIsANoOpAndStatusShowsAgreement() throws Exception {
        Map<String, String> env = freshEnvironments("roundtrip");
        // A password inside the URL too: it must be masked in our output and in Flyway's logs.
        env.put("METER_DB_DEV_URL", env.get("METER_DB_DEV_URL") + "?password=" + PASSWORD);
        String dir = migrations("base").toString();

        Run first = meter(env, "schema", "sync", "--migrations", dir);
        assertThat(first.code()).isZero();
        assertThat(first.out()).isEqualTo(String.join(System.lineSeparator(),
                "dev: applied 2 migrations", "  V1  create accounts", "  V2  add calls",
                "prod: applied 2 migrations", "  V1  create accounts", "  V2  add calls", ""));

        Run second = meter(env, "schema", "sync", "--migrations", dir);
        assertThat(second.code()).isZero();
        assertThat(second.out()).isEqualTo("dev: up to date" + System.lineSeparator()
                + "prod: up to date" + System.lineSeparator());

        Run status = meter(env, "schema", "status", "--migrations", dir);
        assertThat(status.code()).isZero();
        assertThat(status.out())
                .contains("dev  " + env.get("METER_DB_DEV_URL").replace(PASSWORD, "****"))
                .containsPattern("1 +create accounts +applied")
                .containsPattern("2 +add calls +applied")
                .contains("environments agree: dev, prod have the same migrations applied with the same checksums");

        assertThat(meter(env, "schema", "validate", "--migrations", dir).out())
                .contains("dev: ok (2 applied, 0 pending)", "prod: ok (2 applied, 0 pending)");
        Run diff = meter(env, "schema", "diff");
        assertThat(diff.code()).isZero();
        assertThat(diff.out()).isEqualTo("no differences between dev and prod" + System.lineSeparator());
    }

    @Test
    void statusReportsPendingMigrationsAsDisagreement() throws Exception {
        Map<String, String> env = freshEnvironments("pending");
        String dir = migrations("base").toString();
        assertThat(meter(env, "schema", "sync", "--env", "dev", "--migrations", dir).code()).isZero();

        Run status = meter(env, "schema", "status", "--migrations", dir);
        assertThat(status.code()).isEqualTo(1);
        assertThat(status.out()).containsPattern("2 +add calls +pending")
                .contains("environments disagree (dev, prod):", "  V2 add calls is applied in dev, not in prod");
    }

    @Test
    void aMigrationEditedAfterApplyFailsValidateAndStatus() throws Exception {
        Map<String, String> env = freshEnvironments("edited");
        Path dir = migrations("base");
        assertThat(meter(env, "schema", "sync", "--migrations", dir.toString()).code()).isZero();
        Path v2 = dir.resolve("V2__add_calls.sql");
        Files.writeString(v2, Files.readString(v2).replace("DEFAULT 1", "DEFAULT 2"));

        Run validate = meter(env, "schema", "validate", "--migrations", dir.toString());
        assertThat(validate.code()).isEqualTo(1);
        assertThat(validate.out()).isEqualTo(String.join(System.lineSeparator(),
                "dev: 1 problem", "  V2 add calls: checksum mismatch (edited after apply)",
                "prod: 1 problem", "  V2 add calls: checksum mismatch (edited after apply)", ""));

        Run status = meter(env, "schema", "status", "--migrations", dir.toString());
        assertThat(status.code()).isEqualTo(1);
        assertThat(status.out()).containsPattern("2 +add calls +checksum mismatch \\(edited after apply\\)");
    }

    @Test
    void aFailingMigrationStopsAtDevAndProdIsNotAttempted() throws Exception {
        Map<String, String> env = freshEnvironments("failing");
        Path dir = migrations("base");
        assertThat(meter(env, "schema", "sync", "--migrations", dir.toString()).code()).isZero();
        Files.copy(Path.of(getClass().getResource("/schema-migrations/failing/V3__broken_step.sql").toURI()),
                dir.resolve("V3__broken_step.sql"));

        Run sync = meter(env, "schema", "sync", "--migrations", dir.toString());
        assertThat(sync.code()).isEqualTo(1);
        assertThat(sync.out()).contains(
                "dev: FAILED: V3 broken step failed: ERROR: division by zero (rolled back",
                "prod: not attempted because dev failed");
        assertThat(historyVersions(env, "DEV")).containsExactly("1", "2");
        assertThat(historyVersions(env, "PROD")).containsExactly("1", "2");
        assertThat(tableExists(env, "DEV", "broken_step")).isFalse();
    }

    @Test
    void diffShowsAColumnAddedInProdAnIndexDroppedInDevAndAFunctionChangedInProd() throws Exception {
        Map<String, String> env = freshEnvironments("drift");
        Path migrations = migrations("base");
        assertThat(meter(env, "schema", "sync", "--migrations", migrations.toString()).code()).isZero();
        execute(env, "PROD", "ALTER TABLE accounts ADD COLUMN nickname text");
        execute(env, "DEV", "DROP INDEX idx_accounts_created_at");
        execute(env, "PROD", """
                CREATE OR REPLACE FUNCTION account_credits(p_id uuid) RETURNS integer
                    LANGUAGE sql STABLE AS $$ SELECT credits * 2 FROM accounts WHERE id = p_id $$""");

        Run diff = meter(env, "schema", "diff");
        assertThat(diff.code()).isEqualTo(1);
        assertThat(diff.out().lines()).containsExactlyInAnyOrder(
                "prod has column accounts.nickname text (not in dev)",
                "index idx_accounts_created_at missing in dev",
                "function account_credits(uuid) differs");

        Run drift = meter(env, "schema", "diff", "--against-migrations", "--migrations", migrations.toString());
        assertThat(drift.code()).isEqualTo(1);
        assertThat(drift.out().lines().skip(3)).containsExactly(
                "dev vs the migrations (filesystem:" + migrations.toAbsolutePath() + "):",
                "  index idx_accounts_created_at missing in dev",
                "prod vs the migrations (filesystem:" + migrations.toAbsolutePath() + "):",
                "  prod has column accounts.nickname text (not in migrations)",
                "  function account_credits(uuid) differs");
    }

    @Test
    void unreachableHostIsOneLineNamingTheHost() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        Map<String, String> env = freshEnvironments("unreachable");
        env.put("METER_DB_DEV_URL", "jdbc:postgresql://localhost:" + closedPort + "/meter?password=" + PASSWORD);

        Run status = meter(env, "schema", "status");
        assertThat(status.code()).isEqualTo(1);
        assertThat(status.err().lines()).singleElement().satisfies(line -> assertThat(line)
                .startsWith("meter schema status: cannot reach dev (jdbc:postgresql://localhost:" + closedPort
                        + "/meter?password=****)")
                .contains("refused")
                .contains("METER_DB_DEV_URL"));

        env.put("METER_DB_DEV_URL", "jdbc:postgresql://no-such-host.invalid:5432/meter");
        Run sync = meter(env, "schema", "sync");
        assertThat(sync.code()).isEqualTo(1);
        assertThat(sync.out()).contains("dev: FAILED: cannot reach dev (jdbc:postgresql://no-such-host.invalid:5432/meter)"
                + ": unknown host no-such-host.invalid", "prod: not attempted because dev failed");
    }

    @Test
    void badCredentialsAreOneLineNamingTheUserAndVariables() {
        Map<String, String> env = freshEnvironments("bad_password");
        env.put("METER_DB_PROD_PASSWORD", PASSWORD + "-wrong");

        Run validate = meter(env, "schema", "validate");
        assertThat(validate.code()).isEqualTo(1);
        assertThat(validate.err().lines()).singleElement().satisfies(line -> assertThat(line)
                .startsWith("meter schema validate: cannot log in to prod")
                .contains("password authentication failed for user \"" + USER + "\"")
                .contains("METER_DB_PROD_USER and METER_DB_PROD_PASSWORD"));
        assertThat(validate.err()).doesNotContain(PASSWORD + "-wrong");
    }

    @Test
    void unknownEnvironmentAndMissingVariablesAreOneLineNamingTheVariable() {
        Map<String, String> env = freshEnvironments("config");

        Run unknown = meter(env, "schema", "status", "--env", "staging");
        assertThat(unknown.code()).isEqualTo(1);
        assertThat(unknown.err()).isEqualTo("meter schema status: unknown environment staging: set "
                + "METER_DB_STAGING_URL, METER_DB_STAGING_USER and METER_DB_STAGING_PASSWORD" + System.lineSeparator());

        env.remove("METER_DB_PROD_USER");
        Run noUser = meter(env, "schema", "sync");
        assertThat(noUser.code()).isEqualTo(1);
        assertThat(noUser.err()).isEqualTo("meter schema sync: environment prod: METER_DB_PROD_USER is not set"
                + System.lineSeparator());
        assertThat(noUser.out()).isEmpty();

        env.put("METER_DB_PROD_USER", USER);
        env.remove("METER_DB_DEV_URL");
        Run noUrl = meter(env, "schema", "diff");
        assertThat(noUrl.err()).isEqualTo("meter schema diff: environment dev: METER_DB_DEV_URL is not set"
                + System.lineSeparator());
    }

    @Test
    void newCreatesTheNextNumberedMigrationAndRefusesBadNames() throws Exception {
        Path dir = migrations("base");
        Run created = meter(Map.of(), "schema", "new", "Add referral-index", "--dir", dir.toString());
        assertThat(created.code()).isZero();
        Path file = dir.resolve("V3__add_referral_index.sql");
        assertThat(created.out().trim()).isEqualTo(file.toString());
        assertThat(Files.readString(file)).startsWith("-- V3 add referral index");

        Run bad = meter(Map.of(), "schema", "new", "3; drop table", "--dir", dir.toString());
        assertThat(bad.code()).isEqualTo(1);
        assertThat(bad.err()).startsWith("meter schema new: bad migration name '3; drop table'");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.count()).isEqualTo(3);
        }
    }

    private static String url(Map<String, String> env, String name) {
        return env.get("METER_DB_" + name + "_URL");
    }

    private static void execute(Map<String, String> env, String name, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(url(env, name), USER, PASSWORD);
             Statement st = c.createStatement()) {
            st.execute(sql);
        }
    }

    private static List<String> historyVersions(Map<String, String> env, String name) throws SQLException {
        try (Connection c = DriverManager.getConnection(url(env, name), USER, PASSWORD);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT version FROM flyway_schema_history ORDER BY installed_rank")) {
            List<String> versions = new java.util.ArrayList<>();
            while (rs.next()) {
                versions.add(rs.getString(1));
            }
            return versions;
        }
    }

    private static boolean tableExists(Map<String, String> env, String name, String table) throws SQLException {
        try (Connection c = DriverManager.getConnection(url(env, name), USER, PASSWORD);
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT to_regclass('public." + table + "') IS NOT NULL")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }
}
