package io.usagemeter.embedded;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * A real PostgreSQL server (binaries from Maven, no Docker) for tests and for {@code meter dev}.
 *
 * <p>Started on a free port, in a temporary directory by default or in a chosen data directory
 * that survives a restart. Databases are created on demand, so one server can hold both the
 * {@code meter_dev} and {@code meter_prod} databases, or tests can start two servers.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {

    public static final String SUPERUSER = "postgres";
    private static final Pattern DATABASE_NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");
    private static final Pattern PLAIN_PASSWORD = Pattern.compile("[A-Za-z0-9]{16,128}");
    /** Every login over TCP needs a password; the Unix socket (only this user can reach it) stays trusted. */
    private static final String PASSWORD_HBA = """
            # Written by io.usagemeter.embedded.EmbeddedPostgresServer: every TCP login needs a password.
            local   all   all                  trust
            host    all   all   127.0.0.1/32   scram-sha-256
            host    all   all   ::1/128        scram-sha-256
            """;

    private final EmbeddedPostgres postgres;

    private EmbeddedPostgresServer(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    /** A throw-away server in a temporary directory, on a free port. */
    public static EmbeddedPostgresServer start() {
        return start(null, 0);
    }

    /**
     * A server whose data lives in {@code dataDir} (kept across restarts) on {@code port}.
     *
     * @param dataDir the data directory, or {@code null} for a temporary one that is deleted on close
     * @param port the port, or 0 for a free one
     */
    public static EmbeddedPostgresServer start(Path dataDir, int port) {
        return start(dataDir, port, null);
    }

    /**
     * As {@link #start(Path, int)}, but every TCP login needs a password ({@code scram-sha-256}):
     * the superuser's is {@code superuserPassword}, other roles get theirs from
     * {@link #createRole(String, String)}. The first start on a new data directory sets the
     * password and switches {@code pg_hba.conf} from initdb's {@code trust}; later starts on the same
     * directory must pass the same password.
     *
     * @param superuserPassword letters and digits only (it is written into an ALTER ROLE statement),
     *     or {@code null} for the default trust authentication
     */
    public static EmbeddedPostgresServer start(Path dataDir, int port, String superuserPassword) {
        if (superuserPassword != null) {
            requirePlainPassword(superuserPassword);
        }
        try {
            EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                    .setServerConfig("max_connections", "200")
                    .setServerConfig("fsync", dataDir == null ? "off" : "on");
            if (dataDir != null) {
                builder.setDataDirectory(dataDir).setCleanDataDirectory(false);
            }
            if (port > 0) {
                builder.setPort(port);
            }
            if (superuserPassword != null) {
                // Ignored while pg_hba.conf still says trust (first start), needed from then on.
                builder.setConnectConfig("password", superuserPassword);
            }
            EmbeddedPostgresServer server = new EmbeddedPostgresServer(builder.start());
            if (superuserPassword != null) {
                server.requirePasswords(superuserPassword);
            }
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("embedded PostgreSQL did not start: " + e.getMessage(), e);
        }
    }

    /**
     * Stops a server still running from {@code dataDir}, as after a {@code kill -9} of the JVM that
     * started it (PostgreSQL runs in processes of its own and outlives it): its {@code postmaster.pid}
     * names a live {@code postgres} process serving this very directory. It gets PostgreSQL's fast
     * shutdown (open sessions are ended, the data is kept). Call it only while holding the data
     * directory for yourself.
     *
     * @return the stopped server's process id; empty when no server ran from {@code dataDir}
     * @throws IllegalStateException when it did not stop within {@code timeout}
     */
    public static OptionalLong stopLeftover(Path dataDir, Duration timeout) {
        Path pidFile = dataDir.resolve("postmaster.pid");
        List<String> lines;
        try {
            lines = Files.exists(pidFile) ? Files.readAllLines(pidFile) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + pidFile + ": " + e.getMessage(), e);
        }
        if (lines.size() < 2 || !lines.get(0).strip().matches("\\d{1,10}")) {
            return OptionalLong.empty();
        }
        long pid = Long.parseLong(lines.get(0).strip());
        Optional<ProcessHandle> process = ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        Optional<Path> binary = process.flatMap(p -> p.info().command()).map(Path::of)
                .filter(command -> command.getFileName().toString().equals("postgres"));
        if (binary.isEmpty() || !sameDirectory(Path.of(lines.get(1).strip()), dataDir)) {
            // A stale file (PostgreSQL itself copes with it on start) or someone else's process.
            return OptionalLong.empty();
        }
        try {
            requestFastShutdown(process.get());
            process.get().onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("PostgreSQL (pid " + pid + ") left running from " + dataDir
                    + " did not stop within " + timeout.toSeconds() + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while stopping PostgreSQL (pid " + pid + ")", e);
        }
        return OptionalLong.of(pid);
    }

    /**
     * SIGINT, PostgreSQL's fast shutdown (what {@code pg_ctl stop -m fast} sends; {@code pg_ctl} itself
     * refuses to run as root): sessions are ended, the data is checkpointed. Where {@code kill} cannot
     * be run, SIGTERM, the smart shutdown, which waits for sessions to end (their client died with it).
     */
    private static void requestFastShutdown(ProcessHandle postmaster) throws InterruptedException {
        try {
            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(postmaster.pid()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0) {
                return;
            }
        } catch (IOException noKillCommand) {
            // below
        }
        postmaster.destroy();
    }

    private static boolean sameDirectory(Path a, Path b) {
        try {
            return Files.isSameFile(a, b);
        } catch (IOException e) {
            return false;
        }
    }

    /** Sets the superuser's password, then makes every TCP connection authenticate with scram-sha-256. */
    private void requirePasswords(String superuserPassword) {
        try (Connection c = postgres.getPostgresDatabase().getConnection();
             Statement st = c.createStatement()) {
            st.execute("SET password_encryption = 'scram-sha-256'");
            st.execute("ALTER ROLE " + SUPERUSER + " PASSWORD '" + superuserPassword + "'");
            var rs = st.executeQuery("SHOW hba_file");
            rs.next();
            Path hba = Path.of(rs.getString(1));
            if (!Files.readString(hba).equals(PASSWORD_HBA)) {
                Files.writeString(hba, PASSWORD_HBA);
                st.execute("SELECT pg_reload_conf()");
            }
        } catch (SQLException | IOException e) {
            close();
            throw new IllegalStateException("could not require passwords on embedded PostgreSQL: " + e.getMessage(), e);
        }
    }

    /**
     * Creates a login role with this password, or sets the password of the existing role.
     *
     * @param password letters and digits only
     */
    public void createRole(String role, String password) {
        requirePlainName(role);
        requirePlainPassword(password);
        try (Connection c = postgres.getPostgresDatabase().getConnection();
             Statement st = c.createStatement()) {
            st.execute("SET password_encryption = 'scram-sha-256'");
            var rs = st.executeQuery("SELECT 1 FROM pg_roles WHERE rolname = '" + role + "'");
            String verb = rs.next() ? "ALTER" : "CREATE";
            st.execute(verb + " ROLE " + role + " LOGIN PASSWORD '" + password + "'");
        } catch (SQLException e) {
            throw new IllegalStateException("could not create role " + role + ": " + e.getMessage(), e);
        }
    }

    /** Creates {@code database} owned by {@code owner} unless it exists; returns its JDBC URL. */
    public String createDatabase(String database, String owner) {
        requirePlainName(owner);
        String url = createDatabase(database);
        try (Connection c = postgres.getPostgresDatabase().getConnection();
             Statement st = c.createStatement()) {
            st.execute("ALTER DATABASE " + database + " OWNER TO " + owner);
        } catch (SQLException e) {
            throw new IllegalStateException("could not give database " + database + " to " + owner + ": " + e.getMessage(), e);
        }
        // Objects created later by the owner are its own; public schema must be writable by it too.
        try (Connection c = dataSource(database).getConnection();
             Statement st = c.createStatement()) {
            st.execute("ALTER SCHEMA public OWNER TO " + owner);
        } catch (SQLException e) {
            throw new IllegalStateException("could not give schema public of " + database + " to " + owner + ": "
                    + e.getMessage(), e);
        }
        return url;
    }

    private static void requirePlainName(String name) {
        if (!DATABASE_NAME.matcher(Objects.requireNonNull(name)).matches()) {
            throw new IllegalArgumentException("not a plain name: " + name);
        }
    }

    private static void requirePlainPassword(String password) {
        if (!PLAIN_PASSWORD.matcher(Objects.requireNonNull(password)).matches()) {
            // Never echo it: it is a password.
            throw new IllegalArgumentException("a password for the embedded server must be 16 to 128 letters and digits");
        }
    }

    public int port() {
        return postgres.getPort();
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://localhost:" + port() + "/" + database;
    }

    /** The superuser's data source for {@code database}. */
    public DataSource dataSource(String database) {
        return postgres.getDatabase(SUPERUSER, database);
    }

    /** Creates {@code database} unless it exists; returns its JDBC URL. */
    public String createDatabase(String database) {
        if (!DATABASE_NAME.matcher(Objects.requireNonNull(database)).matches()) {
            throw new IllegalArgumentException("not a plain database name: " + database);
        }
        try (Connection c = postgres.getPostgresDatabase().getConnection();
             Statement st = c.createStatement()) {
            var rs = st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + database + "'");
            if (!rs.next()) {
                st.execute("CREATE DATABASE " + database);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not create database " + database + ": " + e.getMessage(), e);
        }
        return jdbcUrl(database);
    }

    /** Drops {@code database} and creates it again, empty. */
    public String recreateDatabase(String database) {
        if (!DATABASE_NAME.matcher(Objects.requireNonNull(database)).matches()) {
            throw new IllegalArgumentException("not a plain database name: " + database);
        }
        try (Connection c = postgres.getPostgresDatabase().getConnection();
             Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
            st.execute("CREATE DATABASE " + database);
        } catch (SQLException e) {
            throw new IllegalStateException("could not recreate database " + database + ": " + e.getMessage(), e);
        }
        return jdbcUrl(database);
    }

    @Override
    public void close() {
        try {
            postgres.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
