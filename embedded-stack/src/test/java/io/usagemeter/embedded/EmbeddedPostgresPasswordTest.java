package io.usagemeter.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedPostgresPasswordTest {

    private static final String SUPERUSER_PASSWORD = "Superuser" + "Passw0rd" + "Abcdef";
    private static final String METER_PASSWORD = "Meter" + "Passw0rd" + "Abcdef12";

    @Test
    void everyTcpLoginNeedsItsPasswordAndTheDataSurvivesARestart(@TempDir Path dataDir) throws Exception {
        String url;
        try (EmbeddedPostgresServer server = EmbeddedPostgresServer.start(dataDir.resolve("pg"), 0, SUPERUSER_PASSWORD)) {
            server.createRole("meter", METER_PASSWORD);
            url = server.createDatabase("meter_dev", "meter");

            assertThatThrownBy(() -> connect(url, "meter", "wrong-password")).isInstanceOf(SQLException.class)
                    .hasMessageContaining("password authentication failed");
            assertThatThrownBy(() -> connect(url, "postgres", "")).isInstanceOf(SQLException.class);
            try (Connection c = connect(url, "meter", METER_PASSWORD)) {
                c.createStatement().execute("CREATE TABLE kept (id int)");
                c.createStatement().execute("INSERT INTO kept VALUES (42)");
            }
        }
        try (EmbeddedPostgresServer again = EmbeddedPostgresServer.start(dataDir.resolve("pg"), 0, SUPERUSER_PASSWORD);
             Connection c = connect(again.jdbcUrl("meter_dev"), "meter", METER_PASSWORD);
             ResultSet rs = c.createStatement().executeQuery("SELECT id FROM kept")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1)).isEqualTo(42);
            // The server's own connections (createDatabase) authenticate with the superuser password.
            again.createDatabase("meter_prod", "meter");
        }
    }

    @Test
    void refusesAPasswordThatIsNotPlainLettersAndDigits() {
        assertThatThrownBy(() -> EmbeddedPostgresServer.start(null, 0, "short'; DROP"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageNotContaining("DROP");
    }

    private static Connection connect(String url, String user, String password) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        return DriverManager.getConnection(url, props);
    }
}
