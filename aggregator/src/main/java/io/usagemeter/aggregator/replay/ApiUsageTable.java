package io.usagemeter.aggregator.replay;

import io.usagemeter.aggregator.sink.SinkWriter;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Routines;
import io.usagemeter.schema.jooq.Tables;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.ToLongFunction;
import org.jooq.ConnectionProvider;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.PGConnection;
import org.postgresql.copy.PGCopyOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replay's view of {@code api_usage}: the events of the log are staged in a temporary table of one
 * database session, and the rows the sink's rules give from them are compared with the table set-based,
 * so a month of millions of events never sits in the heap.
 *
 * <p>The sink's rules (docs/architecture.md, "Usage sink"): an event is stored as its first copy read; a later copy is
 * skipped when a row of the same {@code (user_id, event_id)} is stored with an {@code occurred_at} within
 * 36 days. So a row of the range's months is expected for a logged copy when no earlier copy of the log
 * read lies within 36 days of it, and no row stored before the range does either (the copies before the
 * replay's start offsets all have record times, hence {@code occurred_at}, before the range, so such rows
 * stand for them). Copies more than 36 days apart each get a row, as the sink, which cannot look further,
 * gives them. The one difference: of three or more copies spread over months, a copy the sink skipped
 * still shadows a later one here, while the sink compares only with stored rows (documented in docs/operations/replay.md).
 *
 * <p>All of it runs on one connection, held from {@link #open} to {@link #close}: temporary tables are
 * the session's and vanish with it, whatever happens to the replay.
 */
final class ApiUsageTable implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ApiUsageTable.class);
    private static final String W = SinkWriter.SAME_EVENT_WINDOW;
    /** A time bind value: jOOQ binds an OffsetDateTime of plain SQL as text. */
    private static final String AT = "?::timestamptz";
    private static final String EVENT_COLUMNS = "event_id, user_id, occurred_at, provider, endpoint, method,"
            + " status_code, response_time_ms, request_bytes, response_bytes, tokens, units";
    /** The columns a hand edit may alter; the key columns identify the row and ingested_at is the sink's own. */
    private static final String VALUE_COLUMNS = "provider, endpoint, method, status_code, response_time_ms,"
            + " request_bytes, response_bytes, tokens, units";

    private static final String CREATE_LOGGED = "CREATE TEMPORARY TABLE replay_logged_events ("
            + " source_partition integer NOT NULL, source_offset bigint NOT NULL, event_id text NOT NULL,"
            + " user_id uuid NOT NULL, occurred_at timestamptz NOT NULL, provider text NOT NULL, endpoint text NOT NULL,"
            + " method text NOT NULL, status_code integer NOT NULL, response_time_ms bigint NOT NULL,"
            + " request_bytes bigint NOT NULL, response_bytes bigint NOT NULL, tokens bigint NOT NULL,"
            + " units bigint NOT NULL)";
    private static final String COPY_LOGGED = "COPY replay_logged_events (source_partition, source_offset, "
            + EVENT_COLUMNS + ") FROM STDIN (FORMAT csv)";

    /** Binds: range start, range end, range start, range start. */
    private static final String CREATE_EXPECTED = "CREATE TEMPORARY TABLE replay_expected_usage AS"
            + " SELECT " + columns("e", EVENT_COLUMNS) + " FROM replay_logged_events e"
            + " WHERE e.occurred_at >= " + AT + " AND e.occurred_at < " + AT
            + " AND NOT EXISTS (SELECT 1 FROM replay_logged_events p"
            + "   WHERE p.user_id = e.user_id AND p.event_id = e.event_id"
            + "   AND (p.source_partition, p.source_offset) < (e.source_partition, e.source_offset)"
            + "   AND p.occurred_at BETWEEN e.occurred_at - " + W + " AND e.occurred_at + " + W + ")"
            + " AND NOT EXISTS (SELECT 1 FROM api_usage a"
            + "   WHERE a.user_id = e.user_id AND a.event_id = e.event_id"
            + "   AND a.occurred_at >= e.occurred_at - " + W
            + "   AND a.occurred_at >= " + AT + " - " + W + " AND a.occurred_at < " + AT + ")";

    /** Binds: the range's start and end, three times. */
    private static final String CREATE_CHANGES = "CREATE TEMPORARY TABLE replay_usage_changes AS"
            + " SELECT 'insert'::text AS kind, x.user_id, x.event_id, x.occurred_at FROM replay_expected_usage x"
            + " WHERE NOT EXISTS (SELECT 1 FROM api_usage a WHERE a.user_id = x.user_id AND a.event_id = x.event_id"
            + "   AND a.occurred_at = x.occurred_at AND a.occurred_at >= " + AT + " AND a.occurred_at < " + AT + ")"
            + " UNION ALL"
            + " SELECT 'rewrite', x.user_id, x.event_id, x.occurred_at FROM replay_expected_usage x"
            + " JOIN api_usage a ON a.user_id = x.user_id AND a.event_id = x.event_id AND a.occurred_at = x.occurred_at"
            + " WHERE a.occurred_at >= " + AT + " AND a.occurred_at < " + AT
            + "   AND (" + columns("a", VALUE_COLUMNS) + ") IS DISTINCT FROM (" + columns("x", VALUE_COLUMNS) + ")"
            + " UNION ALL"
            + " SELECT 'remove', a.user_id, a.event_id, a.occurred_at FROM api_usage a"
            + " WHERE a.occurred_at >= " + AT + " AND a.occurred_at < " + AT
            + "   AND EXISTS (SELECT 1 FROM replay_logged_events e WHERE e.user_id = a.user_id AND e.event_id = a.event_id)"
            + "   AND NOT EXISTS (SELECT 1 FROM replay_expected_usage x WHERE x.user_id = a.user_id"
            + "     AND x.event_id = a.event_id AND x.occurred_at = a.occurred_at)";

    private static final String MONTH_OF_OCCURRED_AT = "(date_trunc('month', occurred_at AT TIME ZONE 'UTC'))::date";
    private static final String CHANGES_PER_USER = "SELECT user_id, " + MONTH_OF_OCCURRED_AT + " AS month,"
            + " count(*) FILTER (WHERE kind = 'insert'), count(*) FILTER (WHERE kind = 'rewrite'),"
            + " count(*) FILTER (WHERE kind = 'remove')"
            + " FROM replay_usage_changes GROUP BY 1, 2 ORDER BY 2, 1";

    /** Binds: range start, range end. */
    private static final String COUNT_NOT_IN_LOG = "SELECT count(*) FROM api_usage a"
            + " WHERE a.occurred_at >= " + AT + " AND a.occurred_at < " + AT
            + " AND NOT EXISTS (SELECT 1 FROM replay_logged_events e WHERE e.user_id = a.user_id AND e.event_id = a.event_id)";

    private static final String MATCHES_CHANGE = " a.user_id = c.user_id AND a.event_id = c.event_id"
            + " AND a.occurred_at = c.occurred_at AND a.occurred_at >= " + AT + " AND a.occurred_at < " + AT;
    private static final String EXPECTED_OF_CHANGE = " JOIN replay_expected_usage x ON x.user_id = c.user_id"
            + " AND x.event_id = c.event_id AND x.occurred_at = c.occurred_at";
    /** Binds: range start, range end. */
    private static final String REMOVE = "DELETE FROM api_usage a USING replay_usage_changes c"
            + " WHERE c.kind = 'remove' AND" + MATCHES_CHANGE;
    /** Binds: range start, range end. */
    private static final String REWRITE = "UPDATE api_usage a SET (" + VALUE_COLUMNS + ") = ("
            + columns("x", VALUE_COLUMNS) + ")"
            + " FROM replay_usage_changes c" + EXPECTED_OF_CHANGE
            + " WHERE c.kind = 'rewrite' AND" + MATCHES_CHANGE
            + " AND (" + columns("a", VALUE_COLUMNS) + ") IS DISTINCT FROM (" + columns("x", VALUE_COLUMNS) + ")";
    /** Binds: ingested_at. The sink may have written the same row meanwhile: then it stays as the sink wrote it. */
    private static final String INSERT = "INSERT INTO api_usage (" + EVENT_COLUMNS + ", ingested_at)"
            + " SELECT " + columns("x", EVENT_COLUMNS) + ", " + AT + " FROM replay_usage_changes c" + EXPECTED_OF_CHANGE
            + " WHERE c.kind = 'insert' ON CONFLICT DO NOTHING";
    private static final String MONTHS_TO_INSERT = "SELECT DISTINCT " + MONTH_OF_OCCURRED_AT
            + " FROM replay_usage_changes WHERE kind = 'insert'";

    private final ConnectionProvider connections;
    private final Connection connection;
    private final DSLContext session;
    private final OffsetDateTime start;
    private final OffsetDateTime end;

    private ApiUsageTable(ConnectionProvider connections, Connection connection, ReplayRange range) {
        this.connections = connections;
        this.connection = connection;
        this.session = DSL.using(connection, SQLDialect.POSTGRES);
        this.start = range.start().atOffset(ZoneOffset.UTC);
        this.end = range.lastMonth().plusMonths(1).atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC);
    }

    /** Takes a connection of {@code db} for the whole replay and creates the (empty) staging table on it. */
    static ApiUsageTable open(DSLContext db, ReplayRange range) {
        ConnectionProvider connections = db.configuration().connectionProvider();
        Connection connection = connections.acquire();
        ApiUsageTable table = new ApiUsageTable(connections, connection, range);
        try {
            table.dropTemporaries();
            table.session.execute(CREATE_LOGGED);
            return table;
        } catch (RuntimeException e) {
            table.close();
            throw e;
        }
    }

    /** A COPY into the staging table; one at a time, from one thread. */
    Staging staging() {
        try {
            return new Staging(new PGCopyOutputStream(connection.unwrap(PGConnection.class), COPY_LOGGED, 1 << 20));
        } catch (SQLException e) {
            throw new IllegalStateException("cannot start COPY into the replay's staging table: " + e.getMessage(), e);
        }
    }

    /** Events in log order, with the position that orders them; {@link #finish()} ends the COPY and indexes. */
    final class Staging {

        private final PGCopyOutputStream copy;
        private final Writer out;

        private Staging(PGCopyOutputStream copy) {
            this.copy = copy;
            this.out = new BufferedWriter(new OutputStreamWriter(copy, StandardCharsets.UTF_8), 1 << 16);
        }

        void add(int partition, long offset, UsageEvent e) {
            try {
                out.write(Integer.toString(partition));
                out.write(',');
                out.write(Long.toString(offset));
                out.write(',');
                quoted(e.eventId());
                out.write(',');
                out.write(e.userId().toString());
                out.write(',');
                out.write(e.occurredAt().toString()); // the text the sink binds, so PostgreSQL rounds it the same way
                out.write(',');
                out.write(e.provider().wireName());
                out.write(',');
                quoted(e.endpoint());
                out.write(',');
                quoted(e.method());
                for (long n : new long[] {e.statusCode(), e.responseTimeMs(), e.requestBytes(), e.responseBytes(),
                        e.tokens(), e.units()}) {
                    out.write(',');
                    out.write(Long.toString(n));
                }
                out.write('\n');
            } catch (IOException ex) {
                throw new UncheckedIOException("COPY into the replay's staging table failed", ex);
            }
        }

        private void quoted(String text) throws IOException {
            out.write('"');
            out.write(text.indexOf('"') < 0 ? text : text.replace("\"", "\"\""));
            out.write('"');
        }

        /** Ends the COPY; returns the events staged. */
        long finish() {
            try {
                out.flush();
                long rows = copy.endCopy();
                session.execute("CREATE INDEX ON replay_logged_events (user_id, event_id)");
                session.execute("ANALYZE replay_logged_events");
                return rows;
            } catch (IOException | SQLException e) {
                throw new IllegalStateException("COPY into the replay's staging table failed: " + e.getMessage(), e);
            }
        }

        /** Abandons the COPY (nothing staged stays). */
        void abort() {
            try {
                if (copy.isActive()) {
                    copy.cancelCopy();
                }
            } catch (SQLException e) {
                LOG.debug("cancelling the staging COPY: {}", e.getMessage());
            }
        }
    }

    /** Runs {@code work} in one transaction of this table's session: the replay's repairs, all or nothing. */
    <T> T inTransaction(Function<DSLContext, T> work) {
        return session.transactionResult(c -> work.apply(c.dsl()));
    }

    /**
     * Compares {@code api_usage} of the range's months with the rows the log gives and, unless {@code dryRun},
     * makes it equal, in {@code tx} (this table's session, see {@link #inTransaction}).
     */
    ApiUsageRepair repair(DSLContext tx, long eventsLogged, boolean dryRun, Instant now) {
        tx.execute("DROP TABLE IF EXISTS replay_usage_changes, replay_expected_usage");
        tx.execute(CREATE_EXPECTED, start, end, start, start);
        tx.execute("ANALYZE replay_expected_usage");
        tx.execute(CREATE_CHANGES, start, end, start, end, start, end);
        tx.execute("ANALYZE replay_usage_changes");
        List<ApiUsageRepair.Change> changes = tx.fetch(CHANGES_PER_USER).map(r -> new ApiUsageRepair.Change(
                r.get(0, UUID.class), YearMonth.from(r.get(1, LocalDate.class)), r.get(2, Long.class),
                r.get(3, Long.class), r.get(4, Long.class)));
        long notInLog = tx.fetchOne(COUNT_NOT_IN_LOG, start, end).get(0, Long.class);
        if (dryRun) {
            return new ApiUsageRepair(eventsLogged, sum(changes, ApiUsageRepair.Change::inserted),
                    sum(changes, ApiUsageRepair.Change::rewritten), sum(changes, ApiUsageRepair.Change::removed),
                    notInLog, changes);
        }
        for (LocalDate month : tx.fetch(MONTHS_TO_INSERT).getValues(0, LocalDate.class)) {
            Routines.ensureApiUsagePartition(tx.configuration(), month);
        }
        // Removed first: a bogus copy in the way of the expected row leaves before that row comes back.
        int removed = tx.execute(REMOVE, start, end);
        int rewritten = tx.execute(REWRITE, start, end);
        int inserted = tx.execute(INSERT, now.atOffset(ZoneOffset.UTC));
        return new ApiUsageRepair(eventsLogged, inserted, rewritten, removed, notInLog, changes);
    }

    /**
     * How far the sinks have written each partition of {@code meter.usage-events} (the furthest sink of each):
     * rows of events the sink has not reached yet would otherwise count as missing.
     */
    Map<Integer, Long> sinkPositions(String topic) {
        var offsets = Tables.SINK_OFFSETS;
        Map<Integer, Long> positions = new HashMap<>();
        session.select(offsets.PARTITION, DSL.max(offsets.NEXT_OFFSET)).from(offsets)
                .where(offsets.TOPIC.eq(topic)).groupBy(offsets.PARTITION)
                .forEach(r -> positions.put(r.value1(), r.value2()));
        return positions;
    }

    private void dropTemporaries() {
        session.execute("DROP TABLE IF EXISTS replay_usage_changes, replay_expected_usage, replay_logged_events");
    }

    /** Drops the temporary tables (a pooled session outlives the replay) and gives the connection back. */
    @Override
    public void close() {
        try {
            dropTemporaries();
        } catch (RuntimeException e) {
            LOG.debug("dropping the replay's temporary tables: {}", e.getMessage());
        } finally {
            connections.release(connection);
        }
    }

    private static long sum(List<ApiUsageRepair.Change> changes, ToLongFunction<ApiUsageRepair.Change> f) {
        return changes.stream().mapToLong(f).sum();
    }

    /** {@code "a.x, a.y"} of {@code "x, y"}. */
    private static String columns(String alias, String names) {
        return alias + "." + String.join(", " + alias + ".", names.split(",\\s*"));
    }
}
