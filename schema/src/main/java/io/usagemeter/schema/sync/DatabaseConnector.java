package io.usagemeter.schema.sync;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.List;
import java.util.Properties;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Opens connections to an environment and turns connection failures into one line that says
 * what to fix (host, credentials, database), with no credential in it.
 *
 * <p>Every operation uses plain session-scoped connections: it works through a pooler such as
 * PgBouncer in <em>session</em> mode. Transaction mode is not supported because Flyway holds a
 * session-level advisory lock while it migrates, and the driver keeps server-side prepared
 * statements per connection.
 */
public final class DatabaseConnector {

    /** Seconds to wait for a TCP connection and for the login, unless the URL says otherwise. */
    private static final String CONNECT_TIMEOUT_SECONDS = "10";

    private DatabaseConnector() {}

    /** Opens a connection, or fails with a one-line reason naming the environment. */
    public static Connection connect(DatabaseEnvironment env) {
        Properties props = new Properties();
        props.setProperty("user", env.user());
        props.setProperty("password", env.password());
        if (!env.url().contains("connectTimeout=")) {
            props.setProperty("connectTimeout", CONNECT_TIMEOUT_SECONDS);
        }
        if (!env.url().contains("loginTimeout=")) {
            props.setProperty("loginTimeout", CONNECT_TIMEOUT_SECONDS);
        }
        props.setProperty("ApplicationName", "meter schema");
        try {
            return DriverManager.getConnection(env.url(), props);
        } catch (SQLException e) {
            throw failure(env, e);
        }
    }

    /** A data source for Flyway, after {@link #connect} proved the environment reachable. */
    public static DataSource dataSource(DatabaseEnvironment env) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(env.url());
        ds.setUser(env.user());
        ds.setPassword(env.password());
        ds.setApplicationName("meter schema");
        return ds;
    }

    /** Checks that the environment accepts a connection. */
    public static void probe(DatabaseEnvironment env) {
        try (Connection ignored = connect(env)) {
            // reachable and the credentials work
        } catch (SQLException e) {
            throw failure(env, e);
        }
    }

    static SchemaToolException failure(DatabaseEnvironment env, SQLException e) {
        String prefix = DatabaseEnvironment.variablePrefix(env.name());
        String where = env.name() + " (" + env.maskedUrl() + ")";
        String state = e.getSQLState() == null ? "" : e.getSQLState();
        Throwable root = rootCause(e);
        String reason;
        if (root instanceof UnknownHostException) {
            reason = "cannot reach " + where + ": unknown host " + root.getMessage()
                    + " (check " + prefix + "URL)";
        } else if (root instanceof ConnectException || root instanceof NoRouteToHostException
                || root instanceof SocketTimeoutException || state.startsWith("08")) {
            reason = "cannot reach " + where + ": " + firstLine(e.getMessage())
                    + " (check " + prefix + "URL and that the server is running)";
        } else if ("28P01".equals(state) || "28000".equals(state)) {
            reason = "cannot log in to " + where + " as " + env.user() + ": " + firstLine(e.getMessage())
                    + " (check " + prefix + "USER and " + prefix + "PASSWORD)";
        } else if ("3D000".equals(state)) {
            reason = "cannot open " + where + ": " + firstLine(e.getMessage()) + " (check " + prefix + "URL)";
        } else {
            reason = "cannot connect to " + where + ": " + firstLine(e.getMessage());
        }
        return new SchemaToolException(new CredentialMask(List.of(env)).scrub(reason));
    }

    static String firstLine(String message) {
        if (message == null) {
            return "no message";
        }
        int newline = message.indexOf('\n');
        return (newline < 0 ? message : message.substring(0, newline)).trim();
    }

    private static Throwable rootCause(Throwable t) {
        Throwable current = t;
        while (current.getCause() != null && current.getCause() != current) {
            current = current.getCause();
        }
        return current;
    }
}
