package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code meter schema baseline} adopts a database built by the older system's SQL and keeps its users. */
class SchemaBaselineCommandTest {

    static final Path OLDER_SYSTEM = Path.of("../schema/src/test/resources/legacy/older-system.sql");

    static TestStack server;

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
    void adoptsTheOlderDatabaseKeepingItsThreeUsersAndTheirData() throws Exception {
        String url = server.recreateDatabase("older");
        try (Connection c = server.dataSource("older").getConnection(); Statement st = c.createStatement()) {
            st.execute(Files.readString(OLDER_SYSTEM));
        }

        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Meter.commandLine(Map.of(
                "METER_DB_DEV_URL", url, "METER_DB_DEV_USER", "postgres", "METER_DB_DEV_PASSWORD", ""));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute("schema", "baseline", "--env", "dev");

        assertThat(code).as(out + "\n" + err).isZero();
        assertThat(out.toString()).contains("dev: adopted").contains("users");
        try (Connection c = server.dataSource("older").getConnection(); Statement st = c.createStatement()) {
            assertThat(emails(st, "public")).containsExactly("alice@example.com", "bob@example.com", "carol@example.com");
            assertThat(emails(st, "legacy")).containsExactly("alice@example.com", "bob@example.com", "carol@example.com");
            ResultSet rs = st.executeQuery("SELECT count(*) FROM public.api_usage");
            rs.next();
            assertThat(rs.getLong(1)).isPositive();
        }

        // A second baseline refuses: the database already has a migration history.
        StringWriter again = new StringWriter();
        cli.setOut(new PrintWriter(again, true));
        assertThat(cli.execute("schema", "baseline", "--env", "dev")).isEqualTo(1);
        assertThat(again.toString()).contains("dev: FAILED");
    }

    private static List<String> emails(Statement st, String schema) throws Exception {
        List<String> emails = new ArrayList<>();
        ResultSet rs = st.executeQuery("SELECT email FROM " + schema + ".users ORDER BY email");
        while (rs.next()) {
            emails.add(rs.getString(1));
        }
        return emails;
    }
}
