package io.usagemeter.schema;

import java.sql.SQLException;
import java.util.Set;

/**
 * Tells a row PostgreSQL refuses from a database that cannot be reached, by SQLSTATE. The writers
 * isolate a refused row (dead-letter it, go on with the rest) and only pause and retry for
 * everything else: a lost connection (class 08), a timeout or cancellation (57014), a server
 * shutting down (57P*), a deadlock or serialization failure (40*), and any failure without a
 * SQLSTATE, which is never the row's fault.
 */
public final class SqlFailures {

    /**
     * SQLSTATE classes of a refused row: data exceptions (22: a value out of range, NUL in text, an
     * encoding error), integrity constraint violations (23: CHECK, NOT NULL, unique), program limits
     * (54: e.g. an index row too large) and errors raised by our PL/pgSQL functions on their input (P0).
     */
    private static final Set<String> REFUSED_ROW_CLASSES = Set.of("22", "23", "54", "P0");
    private static final int MAX_DESCRIPTION = 300;

    private SqlFailures() {
    }

    /** Whether {@code failure} is PostgreSQL (or the driver) refusing the data itself, not the database failing. */
    public static boolean isRefusedRow(Throwable failure) {
        String state = sqlState(failure);
        return state != null && state.length() == 5 && REFUSED_ROW_CLASSES.contains(state.substring(0, 2));
    }

    /** The SQLSTATE of the first {@link SQLException} in the cause chain, or {@code null}. */
    public static String sqlState(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException sql && sql.getSQLState() != null) {
                return sql.getSQLState();
            }
        }
        return null;
    }

    /** {@code [SQLSTATE] message} of the deepest SQL failure, short enough for a log line or a dead letter. */
    public static String describe(Throwable failure) {
        String state = sqlState(failure);
        Throwable root = failure;
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SQLException) {
                root = t;
                break;
            }
            root = t;
        }
        String message = root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage().strip();
        String text = (state == null ? "" : "[" + state + "] ") + message;
        return text.length() <= MAX_DESCRIPTION ? text : text.substring(0, MAX_DESCRIPTION) + "...";
    }
}
