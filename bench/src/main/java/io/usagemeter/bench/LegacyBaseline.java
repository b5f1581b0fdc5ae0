package io.usagemeter.bench;

import io.usagemeter.schema.events.UsageEvent;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;

/**
 * The older design as the baseline (schema in {@code bench/legacy-baseline.sql}, its own database): for
 * every API call a limit check as a SQL query on the summary and one synchronous, auto-committed INSERT
 * into {@code api_usage} whose ROW trigger upserts {@code monthly_usage_summary}; {@value #WRITERS}
 * concurrent writers, each with its own connection, as request threads of the old service would have.
 */
final class LegacyBaseline {

    static final int WRITERS = 32;

    static final String LIMIT_CHECK = """
            SELECT p.monthly_units, coalesce(s.units, 0)
            FROM users u
            JOIN plans p ON p.name = u.plan
            LEFT JOIN monthly_usage_summary s
              ON s.user_id = u.user_id AND s.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date
            WHERE u.user_id = ?""";

    static final String INSERT = """
            INSERT INTO api_usage (event_id, user_id, occurred_at, provider, endpoint, method, status_code,
                                   response_time_ms, request_bytes, response_bytes, tokens, units)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""";

    /** Sustained calls (check + insert) per second and the latency of the SQL check under that load. */
    record WriteResult(long calls, double seconds, Histogram checkLatency, Histogram insertLatency, int failures) {
        double callsPerSecond() {
            return calls / seconds;
        }
    }

    private final String url;
    private final String user;
    private final UsageMix mix;

    LegacyBaseline(String url, String user, UsageMix mix) {
        this.url = url;
        this.user = user;
        this.mix = mix;
    }

    /** Creates the schema and one user row per mix user (a tenth on 'pro'). */
    void prepare() throws SQLException {
        String sql;
        try (InputStream in = LegacyBaseline.class.getResourceAsStream("/bench/legacy-baseline.sql")) {
            sql = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (Connection c = connect(); Statement st = c.createStatement()) {
            st.execute(sql);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO users (user_id, plan) VALUES (?, ?)")) {
                for (int i = 0; i < UsageMix.USERS; i++) {
                    ps.setObject(1, mix.user(i));
                    ps.setString(2, i % 10 == 0 ? "pro" : "free");
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        }
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(url, user, "");
    }

    /**
     * {@value #WRITERS} writers run for {@code warmUpSeconds + seconds}; calls that start inside the last
     * {@code seconds} are counted and timed.
     *
     * @param firstCall index of the first call in the mix (keeps event ids unique across runs)
     */
    WriteResult writeLoad(int firstCall, double warmUpSeconds, double seconds, boolean insert) throws Exception {
        AtomicInteger next = new AtomicInteger(firstCall);
        AtomicInteger failures = new AtomicInteger();
        long start = System.nanoTime();
        long measureFrom = start + (long) (warmUpSeconds * 1e9);
        long measureUntil = measureFrom + (long) (seconds * 1e9);
        ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
        List<Future<long[]>> results = new ArrayList<>();
        Histogram checks = new Histogram(60_000_000_000L, 3);
        Histogram inserts = new Histogram(60_000_000_000L, 3);
        for (int t = 0; t < WRITERS; t++) {
            results.add(pool.submit(() -> {
                Histogram myChecks = new Histogram(60_000_000_000L, 3);
                Histogram myInserts = new Histogram(60_000_000_000L, 3);
                long counted = 0;
                try (Connection c = connect();
                     PreparedStatement check = c.prepareStatement(LIMIT_CHECK);
                     PreparedStatement write = c.prepareStatement(INSERT)) {
                    long now;
                    while ((now = System.nanoTime()) < measureUntil) {
                        int i = next.getAndIncrement();
                        UsageEvent e = mix.event(i);
                        try {
                            long t0 = System.nanoTime();
                            check.setObject(1, e.userId());
                            try (ResultSet rs = check.executeQuery()) {
                                // The old service compared used with the plan's units here: read both.
                                if (rs.next() && rs.getLong(2) < 0 && rs.getLong(1) < 0) {
                                    failures.incrementAndGet();
                                }
                            }
                            long t1 = System.nanoTime();
                            if (insert) {
                                bind(write, e);
                                write.executeUpdate();
                            }
                            long t2 = System.nanoTime();
                            if (now >= measureFrom) {
                                myChecks.recordValue(t1 - t0);
                                if (insert) {
                                    myInserts.recordValue(t2 - t1);
                                }
                                counted++;
                            }
                        } catch (SQLException ex) {
                            failures.incrementAndGet();
                        }
                    }
                }
                synchronized (checks) {
                    checks.add(myChecks);
                    inserts.add(myInserts);
                }
                return new long[] {counted};
            }));
        }
        long calls = 0;
        for (Future<long[]> f : results) {
            calls += f.get()[0];
        }
        pool.shutdown();
        return new WriteResult(calls, seconds, checks, inserts, failures.get());
    }

    private static void bind(PreparedStatement ps, UsageEvent e) throws SQLException {
        ps.setString(1, e.eventId());
        ps.setObject(2, e.userId());
        ps.setTimestamp(3, Timestamp.from(e.occurredAt()));
        ps.setString(4, e.provider().wireName());
        ps.setString(5, e.endpoint());
        ps.setString(6, e.method());
        ps.setInt(7, e.statusCode());
        ps.setLong(8, e.responseTimeMs());
        ps.setLong(9, e.requestBytes());
        ps.setLong(10, e.responseBytes());
        ps.setLong(11, e.tokens());
        ps.setLong(12, e.units());
    }

    /** The summary's total units, to check that every counted insert reached it through the trigger. */
    long summarisedCalls() throws SQLException {
        try (Connection c = connect(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT coalesce(sum(calls), 0), (SELECT count(*) FROM api_usage) FROM monthly_usage_summary")) {
            rs.next();
            if (rs.getLong(1) != rs.getLong(2)) {
                throw new IllegalStateException("baseline summary counts " + rs.getLong(1) + " calls but api_usage has "
                        + rs.getLong(2) + " rows");
            }
            return rs.getLong(1);
        }
    }
}
