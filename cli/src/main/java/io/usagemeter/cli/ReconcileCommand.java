package io.usagemeter.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.config.ApiAccess;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.reconcile.EnforcerUsage;
import io.usagemeter.schema.reconcile.ReconcileSources;
import io.usagemeter.schema.reconcile.Reconciler;
import io.usagemeter.schema.reconcile.Reconciliation;
import io.usagemeter.schema.reconcile.Reconciliation.Difference;
import io.usagemeter.schema.reconcile.Reconciliation.Totals;
import io.usagemeter.schema.reconcile.Reconciliation.UserReconciliation;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.UUID;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meter reconcile}: one month compared per user across the events topic, the dead letters, the
 * published summaries, PostgreSQL and the enforcer ({@link Reconciler}). Exit 1 on a difference nothing
 * explains; with {@code --wait}, also when what is in flight does not drain in time.
 */
@Command(name = "reconcile", mixinStandardHelpOptions = true,
        description = {"Check that every accepted event of a month is counted exactly once, everywhere.",
            "Exit 0: no difference, or only differences still in flight (lag shown). Exit 1: a difference that "
                    + "neither a dead letter, a usage reset nor lag explains (or, with --wait, lag that did not drain)."})
final class ReconcileCommand extends EnforcerAdminCommands.AdminVerb {

    private static final Duration POLL = Duration.ofSeconds(1);
    private static final int LISTED_USERS = 50;

    @Option(names = "--month", paramLabel = "YYYY-MM", description = "default: the current month (UTC)")
    YearMonth month;

    @Option(names = "--user", paramLabel = "USER_ID", description = "only this user")
    UUID user;

    @Option(names = "--json", description = "print the report as JSON (as GET /v1/admin/reconcile answers)")
    boolean json;

    @Option(names = "--wait", description = "while anything differs, compare again every second until it agrees "
            + "or --timeout passes")
    boolean await;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "120",
            description = "how long --wait waits (default: ${DEFAULT-VALUE})")
    long timeoutSeconds;

    @Option(names = "--all-users", description = "list every user, not only those with a difference")
    boolean allUsers;

    ReconcileCommand(Map<String, String> env) {
        super(env);
    }

    @Override
    public Integer call() throws Exception {
        YearMonth m = monthOrCurrent(month);
        if (timeoutSeconds < 1) {
            throw new IllegalArgumentException("--timeout must be at least 1 second, was " + timeoutSeconds);
        }
        ReconcileOnce once = overApi() ? () -> overApi(m) : direct(m);
        long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
        Reconciliation report = once.run();
        while (await && report.verdict() != Reconciliation.Verdict.CLEAN && System.nanoTime() < deadline) {
            Thread.sleep(POLL.toMillis());
            report = once.run();
        }
        if (json) {
            printJson(report);
        } else {
            print(report, out(), allUsers);
        }
        if (await && report.verdict() == Reconciliation.Verdict.IN_FLIGHT) {
            say("meter reconcile: still in flight after " + timeoutSeconds + " s (lag " + report.lag() + ")");
            return 1;
        }
        return report.verdict().exitCode();
    }

    @FunctionalInterface
    private interface ReconcileOnce {
        Reconciliation run() throws Exception;
    }

    private Reconciliation overApi(YearMonth m) throws Exception {
        JsonNode answer = api("GET", "/v1/admin/reconcile?month=" + m + (user == null ? "" : "&user_id=" + user), null);
        return Json.reader().treeToValue(answer, Reconciliation.class);
    }

    /** Against Kafka and PostgreSQL; the enforcer's {@code used} only when METER_ENFORCER_URL and METER_API_KEY are set. */
    private ReconcileOnce direct(YearMonth m) {
        String bootstrap = KafkaSettings.ifSet(MeterEnvironment.of(env)).orElseThrow(() -> new IllegalArgumentException(
                "set METER_KAFKA_BOOTSTRAP and METER_DB_URL (direct mode) or METER_ENFORCER_URL and METER_ADMIN_TOKEN (admin API)"))
                .bootstrapServers();
        Properties kafka = new Properties();
        kafka.put("bootstrap.servers", bootstrap);
        say("via Kafka at " + bootstrap);
        ApiAccess access = api();
        EnforcerUsage enforcer = access.enforcerReads()
                ? new EnforcerOverHttp(access.enforcerUrl(), access.apiKey())
                : EnforcerUsage.NONE;
        if (enforcer == EnforcerUsage.NONE) {
            say("the enforcer's used is not compared: set METER_ENFORCER_URL and METER_API_KEY");
        }
        Reconciler reconciler = new Reconciler(kafka, database(), enforcer, ReconcileSources.fromEnv(env), clock);
        return () -> reconciler.reconcile(m, user);
    }

    /** {@code GET /v1/usage/{user}?month=} with an API key of scope {@code limits:read}. */
    private record EnforcerOverHttp(URI base, String apiKey) implements EnforcerUsage {
        private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

        @Override
        public OptionalLong units(UUID user, YearMonth month) {
            try {
                HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(base.resolve("/v1/usage/" + user
                                + "?month=" + month)).timeout(Duration.ofSeconds(5))
                        .header("Authorization", "Bearer " + apiKey).GET().build(), HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() != 200) {
                    return OptionalLong.empty();
                }
                return OptionalLong.of(Json.tree(response.body()).path("units").asLong());
            } catch (Exception unavailable) {
                return OptionalLong.empty();
            }
        }
    }

    static void print(Reconciliation r, PrintWriter out, boolean listAll) {
        Totals t = r.totals();
        out.printf("reconcile %s: %,d users, checked in %.1f s%n", r.month(), t.users(), r.tookMs() / 1000.0);
        out.printf("  %-34s %,14d%n", "accepted events (distinct)", t.acceptedEvents());
        out.printf("  %-34s %,14d%n", "dead-lettered (not counted)", t.deadLettered());
        r.deadLetterReasons().forEach((reason, n) -> out.printf("      %,d x %s%n", n, shorten(reason, 100)));
        out.printf("  %-34s %,14d%n", "before a usage reset (not counted)", t.beforeReset());
        out.printf("  %-34s %14s %14s%n", "", "calls", "units");
        out.printf("  %-34s %,14d %,14d%n", "expected from the events", t.expectedCalls(), t.expectedUnits());
        out.printf("  %-34s %,14d %,14d%n", "published summaries", t.publishedCalls(), t.publishedUnits());
        out.printf("  %-34s %,14d %,14d%n", "monthly_usage_summary", t.summaryCalls(), t.summaryUnits());
        out.printf("  %-34s %,14d %14s%n", "api_usage rows (all, resets kept)", t.apiUsageRows(), "");
        out.printf("  %-34s %14s %s%n", "enforcer used", "", r.enforcerChecked() ? String.format("%,14d", t.enforcerUsed())
                : "     (not asked)");
        out.printf("  lag: aggregator %,d, sink %,d, enforcer %,d%s%n", r.lag().get(Reconciliation.Stage.AGGREGATOR),
                r.lag().get(Reconciliation.Stage.SINK), r.lag().get(Reconciliation.Stage.ENFORCER),
                r.newerEventsArrived() ? "; events still arriving" : "");
        if (r.enforcerUnanswered() > 0) {
            out.printf("  the enforcer could not answer for %,d users (restoring or unreachable): in flight%n",
                    r.enforcerUnanswered());
        }
        if (r.unreadable() > 0) {
            out.printf("  unreadable records of the events topic, not dead-lettered: %,d%n", r.unreadable());
        }
        out.printf("  differences: %,d unexplained, %,d in flight%n", t.unexplainedDifferences(), t.explainedDifferences());
        List<UserReconciliation> listed = r.users().stream()
                .filter(u -> listAll || r.users().size() == 1 || !u.differences().isEmpty()).limit(LISTED_USERS).toList();
        if (!listed.isEmpty()) {
            out.printf("  %-36s %8s %5s %8s %9s %9s %9s %9s %9s%n", "user", "events", "dead", "reset", "expected",
                    "published", "summary", "api_rows", "enforcer");
            for (UserReconciliation u : listed) {
                out.printf("  %-36s %8d %5d %8s %9d %9d %9d %9d %9s%n", u.userId(), u.acceptedEvents(), u.deadLettered(),
                        u.resetAt() == null ? "-" : "-" + u.beforeReset(), u.expectedUnits(), u.publishedUnits(),
                        u.summaryUnits(), u.apiUsageRows(), u.enforcerUsed() == null ? "-" : u.enforcerUsed().toString());
                for (Difference d : u.differences()) {
                    out.printf("      %s %s: expected %,d, is %,d (%+,d)%s%n", d.source().name().toLowerCase(), d.measure(),
                            d.expected(), d.actual(), d.actual() - d.expected(),
                            d.explained() ? ", " + d.explanation() : ", UNEXPLAINED");
                }
            }
            long more = r.users().stream().filter(u -> listAll || r.users().size() == 1 || !u.differences().isEmpty()).count() - listed.size();
            if (more > 0) {
                out.printf("  ... and %,d more users (--json for all)%n", more);
            }
        }
        out.println("  verdict: " + r.verdict());
    }

    private static String shorten(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "...";
    }
}
