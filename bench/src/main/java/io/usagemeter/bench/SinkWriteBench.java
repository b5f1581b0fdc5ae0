package io.usagemeter.bench;

import io.usagemeter.aggregator.sink.SinkWriter;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import javax.sql.DataSource;
import org.jooq.Field;
import org.jooq.SQLDialect;
import org.jooq.Table;
import org.jooq.impl.DSL;

/**
 * How fast can the sink write raw events into api_usage? One transaction per batch, as the sink
 * does, on an embedded PostgreSQL 17 with fsync on (a kept data directory), comparing:
 *
 * <ul>
 *   <li>{@code jdbc-unnest}: {@link SinkWriter#insertEvents}, the sink's statement (one array per column,
 *       bound with {@code createArrayOf});
 *   <li>{@code jooq-unnest}: the same statement built with jOOQ ({@code DSL.table("unnest(...)")} over
 *       typed array bind values, which jOOQ sends as array literals in text);
 *   <li>{@code jdbc-batch-rewrite}: a JDBC batch of single-row inserts with {@code reWriteBatchedInserts=true}.
 * </ul>
 *
 * <p>Usage: {@code SinkWriteBench [rows=200000] [batch=1000] [rounds=3]}. Methods alternate within
 * each round, in a rotated order (table truncated and checkpointed before each run) so drift hits them
 * alike; the median round is reported.
 */
public final class SinkWriteBench {

    private static final String JDBC_ROW = "INSERT INTO api_usage (event_id, user_id, occurred_at, provider, endpoint,"
            + " method, status_code, response_time_ms, request_bytes, response_bytes, tokens, units, ingested_at)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";

    private interface Method {
        void write(Connection c, List<UsageEvent> batch, OffsetDateTime now) throws SQLException;
    }

    private SinkWriteBench() {
    }

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        int batchSize = args.length > 1 ? Integer.parseInt(args[1]) : 1000;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        List<UsageEvent> events = events(rows);

        Map<String, Method> methods = new LinkedHashMap<>();
        methods.put("jdbc-unnest", (c, batch, now) ->
                SinkWriter.insertEvents(DSL.using(c, SQLDialect.POSTGRES), batch, now));
        methods.put("jooq-unnest", SinkWriteBench::jooqUnnest);
        methods.put("jdbc-batch-rewrite", SinkWriteBench::jdbcBatch);

        Path dataDir = Files.createTempDirectory("sink-write-bench");
        try (EmbeddedPostgresServer server = EmbeddedPostgresServer.start(dataDir, 0)) {
            server.createDatabase("meter");
            DataSource ds = server.dataSource("meter");
            FlywayMigrations.flyway(ds).migrate();
            Properties rewrite = new Properties();
            rewrite.setProperty("user", EmbeddedPostgresServer.SUPERUSER);
            rewrite.setProperty("reWriteBatchedInserts", "true");
            Map<String, List<Double>> results = new LinkedHashMap<>();
            // Warm-up: every method once on a tenth of the rows.
            for (int round = 0; round <= rounds; round++) {
                boolean warmUp = round == 0;
                List<Map.Entry<String, Method>> order = new ArrayList<>(methods.entrySet());
                java.util.Collections.rotate(order, -round); // no method always runs first after the truncate
                for (Map.Entry<String, Method> m : order) {
                    try (Connection c = java.sql.DriverManager.getConnection(server.jdbcUrl("meter"), rewrite)) {
                        try (Statement st = c.createStatement()) {
                            st.execute("TRUNCATE api_usage");
                            st.execute("CHECKPOINT");
                        }
                        List<UsageEvent> input = warmUp ? events.subList(0, rows / 10) : events;
                        double perSecond = run(c, m.getValue(), input, batchSize);
                        if (!warmUp) {
                            results.computeIfAbsent(m.getKey(), k -> new ArrayList<>()).add(perSecond);
                            System.out.printf("round %d %-20s %,10.0f rows/s%n", round, m.getKey(), perSecond);
                        }
                    }
                }
            }
            System.out.printf("%nmedian of %d rounds, %,d rows in batches of %,d, one commit per batch, fsync on:%n",
                    rounds, rows, batchSize);
            results.forEach((name, values) -> {
                double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                System.out.printf("  %-20s %,10.0f rows/s%n", name, sorted[sorted.length / 2]);
            });
        } finally {
            try (var paths = Files.walk(dataDir)) {
                paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static double run(Connection c, Method method, List<UsageEvent> events, int batchSize) throws SQLException {
        c.setAutoCommit(false);
        long start = System.nanoTime();
        for (int from = 0; from < events.size(); from += batchSize) {
            method.write(c, events.subList(from, Math.min(events.size(), from + batchSize)),
                    OffsetDateTime.now(ZoneOffset.UTC));
            c.commit();
        }
        long nanos = System.nanoTime() - start;
        try (Statement st = c.createStatement(); var rs = st.executeQuery("SELECT count(*) FROM api_usage")) {
            rs.next();
            if (rs.getLong(1) != events.size()) {
                throw new IllegalStateException("wrote " + rs.getLong(1) + " rows, expected " + events.size());
            }
        }
        c.commit();
        return events.size() * 1e9 / nanos;
    }

    private static void jooqUnnest(Connection c, List<UsageEvent> batch, OffsetDateTime now) {
        var a = Tables.API_USAGE;
        int n = batch.size();
        String[] ids = new String[n];
        UUID[] users = new UUID[n];
        OffsetDateTime[] at = new OffsetDateTime[n];
        String[] providers = new String[n];
        String[] endpoints = new String[n];
        String[] methods = new String[n];
        Integer[] status = new Integer[n];
        Long[] time = new Long[n];
        Long[] req = new Long[n];
        Long[] resp = new Long[n];
        Long[] tokens = new Long[n];
        Long[] units = new Long[n];
        for (int i = 0; i < n; i++) {
            UsageEvent e = batch.get(i);
            ids[i] = e.eventId();
            users[i] = e.userId();
            at[i] = e.occurredAt().atOffset(ZoneOffset.UTC);
            providers[i] = e.provider().wireName();
            endpoints[i] = e.endpoint();
            methods[i] = e.method();
            status[i] = e.statusCode();
            time[i] = e.responseTimeMs();
            req[i] = e.requestBytes();
            resp[i] = e.responseBytes();
            tokens[i] = e.tokens();
            units[i] = e.units();
        }
        Table<?> rows = DSL.table("unnest({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11})",
                        array(ids, a.EVENT_ID), array(users, a.USER_ID), array(at, a.OCCURRED_AT),
                        array(providers, a.PROVIDER), array(endpoints, a.ENDPOINT), array(methods, a.METHOD),
                        array(status, a.STATUS_CODE), array(time, a.RESPONSE_TIME_MS), array(req, a.REQUEST_BYTES),
                        array(resp, a.RESPONSE_BYTES), array(tokens, a.TOKENS), array(units, a.UNITS))
                .as("e", "event_id", "user_id", "occurred_at", "provider", "endpoint", "method", "status_code",
                        "response_time_ms", "request_bytes", "response_bytes", "tokens", "units");
        DSL.using(c, SQLDialect.POSTGRES)
                .insertInto(a, a.EVENT_ID, a.USER_ID, a.OCCURRED_AT, a.PROVIDER, a.ENDPOINT, a.METHOD, a.STATUS_CODE,
                        a.RESPONSE_TIME_MS, a.REQUEST_BYTES, a.RESPONSE_BYTES, a.TOKENS, a.UNITS, a.INGESTED_AT)
                .select(DSL.select(col(rows, a.EVENT_ID), col(rows, a.USER_ID), col(rows, a.OCCURRED_AT),
                                col(rows, a.PROVIDER), col(rows, a.ENDPOINT), col(rows, a.METHOD),
                                col(rows, a.STATUS_CODE), col(rows, a.RESPONSE_TIME_MS), col(rows, a.REQUEST_BYTES),
                                col(rows, a.RESPONSE_BYTES), col(rows, a.TOKENS), col(rows, a.UNITS),
                                DSL.val(now, a.INGESTED_AT))
                        .from(rows))
                .onConflictDoNothing()
                .execute();
    }

    private static <T> Field<T[]> array(T[] values, Field<T> column) {
        return DSL.val(values, column.getDataType().array());
    }

    private static <T> Field<T> col(Table<?> rows, Field<T> column) {
        return DSL.field(DSL.name(rows.getName(), column.getName()), column.getDataType());
    }

    private static void jdbcBatch(Connection c, List<UsageEvent> batch, OffsetDateTime now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(JDBC_ROW)) {
            for (UsageEvent e : batch) {
                ps.setString(1, e.eventId());
                ps.setObject(2, e.userId());
                ps.setObject(3, e.occurredAt().atOffset(ZoneOffset.UTC));
                ps.setString(4, e.provider().wireName());
                ps.setString(5, e.endpoint());
                ps.setString(6, e.method());
                ps.setInt(7, e.statusCode());
                ps.setLong(8, e.responseTimeMs());
                ps.setLong(9, e.requestBytes());
                ps.setLong(10, e.responseBytes());
                ps.setLong(11, e.tokens());
                ps.setLong(12, e.units());
                ps.setObject(13, now);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /** Realistic events of 10,000 users within one month (so one partition, as in steady state). */
    private static List<UsageEvent> events(int count) {
        List<UsageEvent> events = new ArrayList<>(count);
        Instant start = Instant.parse("2026-01-01T00:00:00Z");
        Provider[] providers = Provider.values();
        for (int i = 0; i < count; i++) {
            UUID user = new UUID(0x6f1c3a2e8d4b4c1aL, 0x9e2f000000000000L + i % 10_000);
            events.add(new UsageEvent("evt-" + UUID.randomUUID(), user, start.plusMillis(i * 7L),
                    providers[i % providers.length], "/v1/chat/completions", "POST", 200, 842, 1_200, 5_400, 1_350, 1));
        }
        return events;
    }
}
