package io.usagemeter.kit;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.time.Duration;

/**
 * The services' connections to PostgreSQL: one bounded HikariCP pool per service, with connect,
 * login and socket timeouts so that a slow or unreachable database makes a request fail in bounded
 * time instead of holding its thread. The pool starts without a connection: a database that is
 * down at start shows in readiness, it does not stop the service from starting.
 */
public final class DatabasePool {

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(2);
    /** How long a caller waits for a free connection of the pool before it fails. */
    private static final Duration CHECKOUT_TIMEOUT = Duration.ofSeconds(2);

    private DatabasePool() {
    }

    /**
     * @param name the pool's name in logs and metrics, e.g. {@code ingest-keys}
     * @param maxConnections the pool's size: at most this many queries at once
     * @param socketTimeout longest wait for one answer of the database (a read on the socket)
     */
    public static HikariDataSource open(String name, String jdbcUrl, String user, String password, int maxConnections,
                                        Duration socketTimeout) {
        HikariConfig config = new HikariConfig();
        config.setPoolName(name);
        config.setJdbcUrl(jdbcUrl);
        config.setUsername(user);
        config.setPassword(password);
        config.setMaximumPoolSize(maxConnections);
        config.setMinimumIdle(1);
        config.setConnectionTimeout(CHECKOUT_TIMEOUT.toMillis());
        config.setValidationTimeout(1_000);
        config.setInitializationFailTimeout(-1);
        config.addDataSourceProperty("connectTimeout", Long.toString(CONNECT_TIMEOUT.toSeconds()));
        config.addDataSourceProperty("loginTimeout", Long.toString(CONNECT_TIMEOUT.toSeconds()));
        config.addDataSourceProperty("socketTimeout", Long.toString(Math.max(1, socketTimeout.toSeconds())));
        config.addDataSourceProperty("ApplicationName", name);
        return new HikariDataSource(config);
    }
}
