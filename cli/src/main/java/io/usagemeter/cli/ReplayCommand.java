package io.usagemeter.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.replay.ApiUsageRepair;
import io.usagemeter.aggregator.replay.ReplayCancelledException;
import io.usagemeter.aggregator.replay.ReplayPlan;
import io.usagemeter.aggregator.replay.ReplayProgress;
import io.usagemeter.aggregator.replay.ReplayRange;
import io.usagemeter.aggregator.replay.ReplayRefusedException;
import io.usagemeter.aggregator.replay.ReplayReport;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.aggregator.replay.SummaryChange;
import io.usagemeter.cli.replay.AggregatorReplayRunner;
import io.usagemeter.schema.events.MonthlySummary;
import java.time.Instant;
import java.time.YearMonth;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meter admin replay --month YYYY-MM | --from TIMESTAMP [--dry-run] [--yes]}: rebuilds months from
 * the event log (see docs/operations/replay.md). Directly (Kafka and PostgreSQL) it runs in this process and
 * Ctrl-C stops it cleanly; over the admin API it starts a job on the enforcer and follows its progress.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Rebuild monthly summaries from meter.usage-events and repair the PostgreSQL rows (summaries and"
                + " api_usage) that differ.")
final class ReplayCommand extends EnforcerAdminCommands.AdminVerb {

    static final int EXIT_REFUSED = 3;
    static final int EXIT_DIVERGES = 4;

    ReplayCommand(Map<String, String> env) {
        super(env);
    }

    static final class Range {
        @Option(names = "--month", paramLabel = "YYYY-MM", required = true, description = "rebuild this month (UTC)")
        YearMonth month;

        @Option(names = "--from", paramLabel = "TIMESTAMP", required = true,
                description = "rebuild every month from the one holding this instant (RFC 3339) to the current one")
        Instant from;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Range range;

    @Option(names = "--dry-run", description = "compute and show what would change; write nothing")
    boolean dryRun;

    @Option(names = "--yes", description = "do not ask for confirmation")
    boolean yes;

    @Override
    public Integer call() throws Exception {
        ReplayRange r = range.month != null ? ReplayRange.month(range.month) : ReplayRange.from(range.from, clock.instant());
        if (!dryRun && !yes && !confirmed(r)) {
            say("not replayed");
            return 1;
        }
        return overApi() ? overApi(r) : direct(r);
    }

    private boolean confirmed(ReplayRange r) {
        java.io.Console console = System.console();
        if (console == null) {
            throw new IllegalArgumentException("replay rewrites PostgreSQL rows of " + r
                    + ": pass --yes (or --dry-run) when not at a terminal");
        }
        String answer = console.readLine("Replay %s and repair PostgreSQL rows that differ from the stream? [y/N] ", r);
        return answer != null && answer.trim().toLowerCase(Locale.ROOT).startsWith("y");
    }

    private int direct(ReplayRange r) throws Exception {
        AggregatorConfig aggregator = AggregatorConfig.fromEnv(env);
        say("via Kafka at " + aggregator.bootstrapServers());
        Replayer replayer = AggregatorReplayRunner.replayer(env, database(), clock);
        ReplayPlan plan;
        try {
            plan = replayer.plan(r, dryRun);
        } catch (ReplayRefusedException e) {
            say("refused: " + e.getMessage());
            return EXIT_REFUSED;
        }
        say("replay " + plan.jobId() + " of " + r + ": " + String.format(Locale.ROOT, "%,d", plan.recordsToRead())
                + " input records from " + plan.eventsFrom() + (dryRun ? " (dry run)" : ""));
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch finished = new CountDownLatch(1);
        // Ctrl-C: stop reading, remove the temporary application, announce the end; then the JVM may exit.
        Thread hook = new Thread(() -> {
            stop.set(true);
            try {
                finished.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "replay-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            ReplayReport report = replayer.run(plan, this::show, stop::get);
            spec.commandLine().getErr().println();
            print(report);
            return report.diverging() > 0 ? EXIT_DIVERGES : 0;
        } catch (ReplayCancelledException e) {
            spec.commandLine().getErr().println();
            say(e.getMessage() + "; nothing was written, run it again to finish");
            return 130;
        } finally {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it only waited for us
            }
        }
    }

    private int overApi(ReplayRange r) throws Exception {
        Map<String, Object> body = new LinkedHashMap<>();
        if (range.month != null) {
            body.put("month", range.month.toString());
        } else {
            body.put("from", range.from.toString());
        }
        body.put("dry_run", dryRun);
        String jobId = api("POST", "/v1/admin/replay", body).get("job_id").asText();
        say("replay job " + jobId + " of " + r + " started on the enforcer");
        while (true) {
            JsonNode job = api("GET", "/v1/admin/replay/" + jobId, null);
            JsonNode p = job.get("progress");
            if (p != null && !p.isNull()) {
                spec.commandLine().getErr().print("\r" + String.format(Locale.ROOT, "%s %,d / %,d records, %,.0f rec/s",
                        p.get("phase").asText(), p.get("records_read").asLong(), p.get("records_total").asLong(),
                        p.get("records_per_second").asDouble()));
                spec.commandLine().getErr().flush();
            }
            String state = job.get("state").asText();
            if (!state.equals("running")) {
                spec.commandLine().getErr().println();
                printJson(job);
                return state.equals("succeeded") ? (job.at("/report/changes").findValues("kind").stream()
                        .anyMatch(k -> k.asText().equals("stream_diverges")) ? EXIT_DIVERGES : 0) : 1;
            }
            Thread.sleep(1000);
        }
    }

    private void show(ReplayProgress progress) {
        spec.commandLine().getErr().print("\r" + progress.describe() + "   ");
        spec.commandLine().getErr().flush();
    }

    private void print(ReplayReport report) {
        var out = out();
        out.printf(Locale.ROOT, "replay %s of %s%s: %,d records in %.1f s (%,.0f rec/s), %d summaries rebuilt, %d rows repaired%n",
                report.jobId(), report.range(), report.dryRun() ? " (dry run)" : "", report.recordsRead(),
                report.took().toMillis() / 1000.0, report.recordsPerSecond(), report.summariesRebuilt(), report.rowsRepaired());
        ApiUsageRepair events = report.apiUsage();
        out.printf(Locale.ROOT, "api_usage: %,d events in the log; rows %s %,d, %s %,d, %s %,d; %,d kept (events the log"
                        + " read does not hold)%n", events.eventsLogged(),
                report.dryRun() ? "to insert" : "inserted", events.rowsInserted(),
                report.dryRun() ? "to rewrite" : "rewritten", events.rowsRewritten(),
                report.dryRun() ? "to remove" : "removed", events.rowsRemoved(), events.rowsKeptNotInLog());
        if (report.changes().isEmpty()) {
            out.println("every summary, on the stream and in PostgreSQL, equals the rebuild: nothing to change");
        }
        for (SummaryChange c : report.changes()) {
            String what = switch (c.kind()) {
                case DATABASE_REPAIRED -> report.dryRun() ? "would repair row" : "repaired row";
                case STREAM_DIVERGES -> "STREAM DIVERGES (not published; rebuild the aggregator: meter admin rewind-aggregator)";
            };
            out.printf("%s %s %s%n  stream:   %s%n  database: %s%n  rebuilt:  %s%n", c.key().userId(), c.key().month(), what,
                    numbers(c.stream()), numbers(c.database()), numbers(c.rebuilt()));
        }
        for (ApiUsageRepair.Change c : events.changes()) {
            out.printf(Locale.ROOT, "%s %s api_usage rows %s: %d inserted, %d rewritten, %d removed%n", c.userId(), c.month(),
                    report.dryRun() ? "that would change" : "changed", c.inserted(), c.rewritten(), c.removed());
        }
        out.flush();
    }

    private static String numbers(MonthlySummary s) {
        return s == null ? "(none)" : String.format(Locale.ROOT, "calls %d, units %d, ok %d, failed %d, tokens %d",
                s.calls(), s.units(), s.successfulCalls(), s.failedCalls(), s.tokens());
    }
}
