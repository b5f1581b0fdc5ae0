package io.usagemeter.bench;

import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.enforcer.db.AdminReports;
import io.usagemeter.enforcer.db.DailyAnalytics;
import io.usagemeter.enforcer.db.UserDetails;
import io.usagemeter.enforcer.db.UserQuery;
import io.usagemeter.schema.FlywayMigrations;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;
import org.jooq.DSLContext;
import org.jooq.ExecuteContext;
import org.jooq.SQLDialect;
import org.jooq.conf.Settings;
import org.jooq.impl.DSL;
import org.jooq.impl.DefaultConfiguration;
import org.jooq.impl.DefaultExecuteListenerProvider;
import org.jooq.ExecuteListener;

/**
 * The admin panel's reports against issue #16's target (under 200 ms for 100,000 users), through the production
 * classes of {@code io.usagemeter.enforcer.db} on a jOOQ DSLContext over one connection, as the routes call them.
 * Embedded PostgreSQL, migrated by Flyway, is seeded in SQL: {@code -Dusers=100000} users on three plans,
 * {@code -Devents=20} api_usage rows per user over the last {@code -Dspan=40} days (their monthly_usage_summary
 * rows computed from them: current and previous month), {@code -Dreferrals=5000} completed referrals and a
 * fifth as many pending. Each report is run {@code -Dwarmup=3} times, then timed {@code -Drepetitions=20} times;
 * p50 and p99 (the slowest of 20), and the p50 of each of the report's statements, are printed as a Markdown table
 * with every statement's EXPLAIN ANALYZE for the reports that miss the target, and written to
 * {@code bench/results/<date>-admin-reports[-<name>].md} ({@code -Dname=}).
 */
public final class AdminReportsBench {

    private static final double TARGET_MS = 200;

    private AdminReportsBench() {
    }

    /** One report as a route asks for it. */
    private record Report(String name, String route, Supplier<Object> call) {
    }

    public static void main(String[] args) throws Exception {
        int users = Integer.getInteger("users", 100_000);
        int events = Integer.getInteger("events", 20);
        int span = Integer.getInteger("span", 40);
        int referrals = Integer.getInteger("referrals", 5_000);
        int warmup = Integer.getInteger("warmup", 3);
        int repetitions = Integer.getInteger("repetitions", 20);
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        YearMonth month = YearMonth.from(today);

        StringBuilder md = new StringBuilder();
        try (EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start()) {
            postgres.createDatabase("meter");
            FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
            try (Connection connection = postgres.dataSource("meter").getConnection()) {
                long seedStart = System.nanoTime();
                seed(connection, users, events, span, referrals);
                double seedSeconds = (System.nanoTime() - seedStart) / 1e9;

                List<String> statements = new ArrayList<>();
                // Milliseconds of each statement of the current call, in the order they ran.
                List<Double> statementMs = new ArrayList<>();
                DSLContext dsl = DSL.using(new DefaultConfiguration().set(connection).set(SQLDialect.POSTGRES)
                        .set(new Settings().withExecuteLogging(false))
                        .set(new DefaultExecuteListenerProvider(new ExecuteListener() {
                            @Override
                            public void executeStart(ExecuteContext ctx) {
                                if (ctx.query() != null) {
                                    statements.add(DSL.using(SQLDialect.POSTGRES).renderInlined(ctx.query()));
                                }
                                ctx.data("started", System.nanoTime());
                            }

                            @Override
                            public void fetchEnd(ExecuteContext ctx) {
                                Object started = ctx.data("started");
                                if (started != null) {
                                    statementMs.add((System.nanoTime() - (Long) started) / 1e6);
                                    ctx.data("started", null);
                                }
                            }

                            @Override
                            public void executeEnd(ExecuteContext ctx) {
                                // Statements without a result set (none here) end here; queries end at fetchEnd.
                                if (ctx.resultSet() == null) {
                                    fetchEnd(ctx);
                                }
                            }
                        })));
                Map<String, Integer> counts = new LinkedHashMap<>();
                for (String table : List.of("users", "api_usage", "monthly_usage_summary", "user_referrals")) {
                    counts.put(table, dsl.fetchCount(DSL.table(DSL.name(table))));
                }
                UUID someone = dsl.select(DSL.field("id", UUID.class)).from("users").where("email = 'user42@example.com'")
                        .fetchOne(0, UUID.class);
                UUID referrer = dsl.select(DSL.field("referrer_id", UUID.class)).from("user_referrals")
                        .groupBy(DSL.field("referrer_id")).orderBy(DSL.count().desc()).limit(1).fetchOne(0, UUID.class);
                String idPrefix = someone.toString().substring(0, 4);

                AdminReports reports = new AdminReports(dsl);
                UserDetails details = new UserDetails(dsl);
                DailyAnalytics daily = new DailyAnalytics(dsl);
                UserQuery.Sort byUse = UserQuery.Sort.USED_DESC;
                List<Report> all = List.of(
                        new Report("users, page 1, most used", "GET /v1/admin/users?page_size=25",
                                () -> reports.users(new UserQuery(month, null, null, byUse, 1, 25))),
                        new Report("users, page 1, least used", "…&sort=used_asc",
                                () -> reports.users(new UserQuery(month, null, null, UserQuery.Sort.USED_ASC, 1, 25))),
                        new Report("users, page 1, by percent", "…&sort=percent_desc",
                                () -> reports.users(new UserQuery(month, null, null, UserQuery.Sort.PERCENT_DESC, 1, 25))),
                        new Report("users, page 200, most used", "…&page=200",
                                () -> reports.users(new UserQuery(month, null, null, byUse, 200, 25))),
                        new Report("users, state exceeded", "…&state=exceeded",
                                () -> reports.users(new UserQuery(month, null, "exceeded", byUse, 1, 25))),
                        new Report("users, state warning", "…&state=warning",
                                () -> reports.users(new UserQuery(month, null, "warning", byUse, 1, 25))),
                        new Report("users, state ok", "…&state=ok",
                                () -> reports.users(new UserQuery(month, null, "ok", byUse, 1, 25))),
                        new Report("users, state exceeded, by percent", "…&state=exceeded&sort=percent_desc",
                                () -> reports.users(new UserQuery(month, null, "exceeded", UserQuery.Sort.PERCENT_DESC, 1, 25))),
                        new Report("users, last page, most used", "…&page=" + (users + 24) / 25,
                                () -> reports.users(new UserQuery(month, null, null, byUse, (users + 24) / 25, 25))),
                        new Report("users, page 200, least used", "…&sort=used_asc&page=200",
                                () -> reports.users(new UserQuery(month, null, null, UserQuery.Sort.USED_ASC, 200, 25))),
                        new Report("users, search e-mail part", "…&q=user4242",
                                () -> reports.users(new UserQuery(month, "user4242", null, byUse, 1, 25))),
                        new Report("users, search id prefix", "…&q=" + idPrefix,
                                () -> reports.users(new UserQuery(month, idPrefix, null, byUse, 1, 25))),
                        new Report("users, search full id", "…&q=<uuid>",
                                () -> reports.users(new UserQuery(month, someone.toString(), null, byUse, 1, 25))),
                        new Report("one user, profile (top referrer)", "GET /v1/admin/users/{id}",
                                () -> details.profile(referrer)),
                        new Report("one user, usage by day, this month", "GET …/usage-by-day",
                                () -> details.monthByDay(someone, month, today)),
                        new Report("one user, usage by day, last month", "GET …/usage-by-day?month=",
                                () -> details.monthByDay(someone, month.minusMonths(1), today)),
                        new Report("analytics, this month, top 10", "GET /v1/admin/analytics?top=10",
                                () -> reports.analytics(month, 10)),
                        new Report("analytics, last month, top 10", "GET /v1/admin/analytics?month=",
                                () -> reports.analytics(month.minusMonths(1), 10)),
                        new Report("analytics, this month, top 1000", "GET /v1/admin/analytics?top=1000",
                                () -> reports.analytics(month, 1000)),
                        new Report("daily analytics, 7 days", "GET /v1/admin/analytics/daily?from= (7 days)",
                                () -> daily.days(today.minusDays(6), today)),
                        new Report("daily analytics, 30 days", "GET /v1/admin/analytics/daily",
                                () -> daily.days(today.minusDays(29), today)),
                        new Report("daily analytics, 90 days", "…/daily?from=&to= (90 days)",
                                () -> daily.days(today.minusDays(89), today)));

                md.append("# Admin panel reports in PostgreSQL (issue #16)\n\n");
                md.append(String.format(Locale.ROOT, "%d cores, JDK %s, embedded PostgreSQL %s, %s UTC. Seeded in %.0f s:"
                                + " %s. Each report through the production classes (enforcer `db` package) on one"
                                + " connection, %d warm-up runs then %d timed; p99 is the slowest of %d.%n%n",
                        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"),
                        dsl.fetchValue("SHOW server_version"), today, seedSeconds, counts, warmup, repetitions,
                        repetitions));
                md.append("| report | route | p50 ms | p99 ms | statements | p50 ms per statement | under 200 ms |\n");
                md.append("|---|---|---:|---:|---:|---|---|\n");
                List<Report> missed = new ArrayList<>();
                Map<Report, List<String>> sqlOf = new LinkedHashMap<>();
                for (Report report : all) {
                    for (int i = 0; i < warmup; i++) {
                        report.call().get();
                    }
                    statements.clear();
                    report.call().get();
                    sqlOf.put(report, new ArrayList<>(statements));
                    double[] ms = new double[repetitions];
                    List<List<Double>> perStatement = new ArrayList<>();
                    for (int i = 0; i < repetitions; i++) {
                        statementMs.clear();
                        long start = System.nanoTime();
                        report.call().get();
                        ms[i] = (System.nanoTime() - start) / 1e6;
                        for (int k = 0; k < statementMs.size(); k++) {
                            if (perStatement.size() <= k) {
                                perStatement.add(new ArrayList<>());
                            }
                            perStatement.get(k).add(statementMs.get(k));
                        }
                    }
                    StringBuilder eachStatement = new StringBuilder();
                    for (List<Double> times : perStatement) {
                        List<Double> sorted = times.stream().sorted().toList();
                        eachStatement.append(eachStatement.isEmpty() ? "" : " + ")
                                .append(String.format(Locale.ROOT, "%.1f", sorted.get((sorted.size() - 1) / 2)));
                    }
                    Arrays.sort(ms);
                    double p50 = ms[(repetitions - 1) / 2];
                    double p99 = ms[Math.min(repetitions - 1, (int) Math.ceil(0.99 * repetitions) - 1)];
                    boolean met = p99 < TARGET_MS;
                    if (!met) {
                        missed.add(report);
                    }
                    String row = String.format(Locale.ROOT, "| %s | `%s` | %.1f | %.1f | %d | %s | %s |%n", report.name(),
                            report.route(), p50, p99, sqlOf.get(report).size(), eachStatement,
                            met ? "met" : p50 < TARGET_MS ? "**missed** (p99)" : "**missed**");
                    System.out.print(row);
                    md.append(row);
                }
                md.append(writeCost(connection, users, month, repetitions));
                md.append(String.format(Locale.ROOT, "%nLoad average (1 min) at the end: %.2f.%n",
                        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
                List<Report> explained = new ArrayList<>(missed);
                for (Report report : explained) {
                    md.append("\n## ").append(report.name()).append(missed.contains(report) ? " (missed)" : "")
                            .append(": EXPLAIN (ANALYZE, BUFFERS) of each statement\n");
                    for (String sql : sqlOf.get(report)) {
                        md.append("\n```sql\n").append(sql).append("\n```\n\n```\n");
                        dsl.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql).forEach(r -> md.append(r.get(0)).append('\n'));
                        md.append("```\n");
                    }
                }
            }
        }
        System.out.println(md);
        Path results = Path.of(System.getProperty("results", "bench/results"));
        Files.createDirectories(results);
        String name = System.getProperty("name", "");
        Path file = results.resolve(LocalDate.now() + "-admin-reports" + (name.isBlank() ? "" : "-" + name) + ".md");
        Files.writeString(file, md);
        System.out.println("written to " + file);
    }

    /**
     * What V12's triggers cost the writers: a batch of 1,000 new api_usage rows (as the sink inserts them, ON CONFLICT
     * DO NOTHING) and an upsert of 1,000 existing summaries of the month, each statement timed in its own
     * transaction (rolled back, so every repetition writes the same), with the triggers and then with them disabled.
     */
    private static String writeCost(Connection connection, int users, YearMonth month, int repetitions) throws Exception {
        String insertEvents = """
                INSERT INTO api_usage (event_id, user_id, occurred_at, provider, endpoint, method, status_code,
                                       response_time_ms, request_bytes, response_bytes, tokens, units)
                SELECT 'w-' || i, md5('user' || (1 + (i * 7919) %% %d))::uuid, now() - (i %% 3600) * interval '1 second',
                       (ARRAY['github', 'openai', 'anthropic', 'gemini', 'other'])[1 + i %% 5], '/v1/chat/completions',
                       'POST', 200, 120, 900, 4000, 300, 1
                FROM generate_series(1, 1000) AS i
                ON CONFLICT DO NOTHING""".formatted(users);
        String upsertSummaries = """
                INSERT INTO monthly_usage_summary AS s (user_id, month, calls, units, successful_calls, failed_calls)
                SELECT md5('user' || (1 + (i * 7919) %% %d))::uuid, date '%s', 50, 40 * i, 50, 0
                FROM generate_series(1, 1000) AS i
                ON CONFLICT (user_id, month) DO UPDATE SET calls = excluded.calls, units = excluded.units,
                    successful_calls = excluded.successful_calls, failed_calls = excluded.failed_calls"""
                .formatted(users, month.atDay(1));
        StringBuilder md = new StringBuilder("\n## What the writers pay for V12's derived rows\n\n"
                + "Each statement in its own transaction, rolled back; " + repetitions + " timed after 3 warm-up runs.\n\n"
                + "| statement | with the triggers: p50 / p99 ms | triggers disabled: p50 / p99 ms |\n|---|---:|---:|\n");
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try (Statement st = connection.createStatement()) {
            for (String[] statement : new String[][] {{"1,000 new api_usage rows", insertEvents},
                    {"upsert of 1,000 summaries of the month", upsertSummaries}}) {
                double[][] ms = new double[2][];
                for (int disabled = 0; disabled < 2; disabled++) {
                    String toggle = disabled == 1 ? "DISABLE" : "ENABLE";
                    st.execute("ALTER TABLE api_usage " + toggle + " TRIGGER USER");
                    st.execute("ALTER TABLE monthly_usage_summary " + toggle + " TRIGGER USER");
                    connection.commit();
                    ms[disabled] = new double[repetitions];
                    for (int i = -3; i < repetitions; i++) {
                        long start = System.nanoTime();
                        st.execute(statement[1]);
                        double took = (System.nanoTime() - start) / 1e6;
                        connection.rollback();
                        if (i >= 0) {
                            ms[disabled][i] = took;
                        }
                    }
                    Arrays.sort(ms[disabled]);
                }
                st.execute("ALTER TABLE api_usage ENABLE TRIGGER USER");
                st.execute("ALTER TABLE monthly_usage_summary ENABLE TRIGGER USER");
                connection.commit();
                md.append(String.format(Locale.ROOT, "| %s | %.1f / %.1f | %.1f / %.1f |%n", statement[0],
                        ms[0][(repetitions - 1) / 2], ms[0][repetitions - 1], ms[1][(repetitions - 1) / 2],
                        ms[1][repetitions - 1]));
            }
        } finally {
            connection.setAutoCommit(autoCommit);
        }
        System.out.print(md);
        return md.toString();
    }

    /**
     * Users (80 % free, 15 % pro, 5 % team, joined over the last 180 days), their events since they joined or
     * since {@code span} days ago (units skewed so that every state occurs this month), the summaries of those
     * events per UTC month, and referrals: each done in one statement, then ANALYZE.
     */
    private static void seed(Connection connection, int users, int events, int span, int referrals) throws Exception {
        try (Statement st = connection.createStatement()) {
            st.execute("SET synchronous_commit = off");
            st.execute("SELECT setseed(0.16)");
            st.execute("""
                    INSERT INTO users (id, email, display_name, plan, referral_code, created_at)
                    SELECT md5('user' || i)::uuid, 'user' || i || '@example.com', 'User ' || i,
                           CASE WHEN i %% 20 = 0 THEN 'team' WHEN i %% 20 < 4 THEN 'pro' ELSE 'free' END,
                           'R' || lpad(i::text, 7, '0'), now() - random() * interval '180 days'
                    FROM generate_series(1, %d) AS i""".formatted(users));
            st.execute("""
                    INSERT INTO api_usage (event_id, user_id, occurred_at, provider, endpoint, method, status_code,
                                           response_time_ms, request_bytes, response_bytes, tokens, units)
                    SELECT 'e-' || j, u.id, since + random() * (now() - since),
                           (ARRAY['github', 'openai', 'anthropic', 'gemini', 'other'])[1 + floor(random() * 5)::int],
                           '/v1/chat/completions', 'POST', CASE WHEN random() < 0.05 THEN 429 ELSE 200 END,
                           (random() * 900)::bigint, (random() * 4000)::bigint, (random() * 20000)::bigint,
                           (random() * 3000)::bigint,
                           1 + floor(power(random(), 4) * CASE u.plan WHEN 'free' THEN 2000 ELSE 60000 END)::bigint
                    FROM (SELECT id, plan, greatest(created_at, now() - interval '%d days') AS since FROM users) AS u,
                         generate_series(1, %d) AS j""".formatted(span, events));
            st.execute("""
                    INSERT INTO monthly_usage_summary (user_id, month, calls, units, successful_calls, failed_calls,
                           tokens, request_bytes, response_bytes, response_time_ms_sum, response_time_ms_max,
                           first_event_at, last_event_at, calls_by_provider)
                    SELECT user_id, m, count(*), sum(units), count(*) FILTER (WHERE status_code < 400),
                           count(*) FILTER (WHERE status_code >= 400), sum(tokens), sum(request_bytes),
                           sum(response_bytes), sum(response_time_ms), max(response_time_ms), min(occurred_at),
                           max(occurred_at), '{}'::jsonb
                    FROM (SELECT *, date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date AS m FROM api_usage) AS a
                    GROUP BY user_id, m""");
            // Referrers are the first 1/200 of the users; the referred ones are the rest, each once.
            st.execute("""
                    INSERT INTO user_referrals (referral_id, referrer_id, referred_id, status, created_at, completed_at)
                    SELECT 'ref-' || i, md5('user' || (1 + i %% greatest(%d / 200, 1)))::uuid,
                           md5('user' || (%d - i))::uuid,
                           CASE WHEN i <= %d THEN 'completed' ELSE 'pending' END,
                           now() - interval '61 days' + i * interval '1 second',
                           CASE WHEN i <= %d THEN now() - random() * interval '60 days' END
                    FROM generate_series(1, %d + %d / 5) AS i""".formatted(users, users, referrals, referrals,
                    referrals, referrals));
            st.execute("""
                    UPDATE users u SET referral_count = r.n, bonus_credits = 10 * r.n
                    FROM (SELECT referrer_id, count(*)::int AS n FROM user_referrals WHERE status = 'completed'
                          GROUP BY referrer_id) AS r
                    WHERE u.id = r.referrer_id""");
            st.execute("""
                    UPDATE users u SET referred_by = r.referrer_id FROM user_referrals r WHERE u.id = r.referred_id""");
            st.execute("VACUUM ANALYZE");
        }
    }
}
