package io.usagemeter.aggregator.sink;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink's one connection, opened on first use and replaced after any failure. The sink writes
 * from a single thread, one transaction at a time, so a pool would add nothing.
 */
final class SinkDatabase implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SinkDatabase.class);
    private static final int VALIDATION_TIMEOUT_SECONDS = 2;

    private final DataSource dataSource;
    private Connection connection;

    SinkDatabase(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** Runs {@code work} in one transaction; on any failure the transaction is rolled back and the connection dropped. */
    <T> T inTransaction(Function<DSLContext, T> work) {
        try {
            return DSL.using(connection(), SQLDialect.POSTGRES).transactionResult(c -> work.apply(c.dsl()));
        } catch (RuntimeException e) {
            discard();
            throw e;
        }
    }

    /** Whether the server answers now (opening a connection if there is none). */
    boolean reachable() {
        try {
            if (connection().isValid(VALIDATION_TIMEOUT_SECONDS)) {
                return true;
            }
        } catch (RuntimeException | SQLException e) {
            log.debug("database unreachable: {}", e.getMessage());
        }
        discard();
        return false;
    }

    private Connection connection() {
        if (connection == null) {
            try {
                connection = dataSource.getConnection();
            } catch (SQLException e) {
                throw new org.jooq.exception.DataAccessException("cannot connect: " + e.getMessage(), e);
            }
        }
        return connection;
    }

    private void discard() {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException e) {
                log.debug("closing a failed connection: {}", e.getMessage());
            }
            connection = null;
        }
    }

    @Override
    public void close() {
        discard();
    }
}
