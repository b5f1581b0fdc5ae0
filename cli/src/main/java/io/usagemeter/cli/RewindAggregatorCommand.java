package io.usagemeter.cli;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.replay.AggregatorRewind;
import io.usagemeter.aggregator.replay.ReplayRange;
import io.usagemeter.aggregator.replay.ReplayRefusedException;
import io.usagemeter.aggregator.replay.RewindPlan;
import io.usagemeter.aggregator.replay.RewindReport;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.schema.config.MeterEnvironment;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Instant;
import java.time.YearMonth;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code meter admin rewind-aggregator --month YYYY-MM | --from TIMESTAMP [--dry-run] [--yes]}: rebuilds the live
 * aggregator itself from the event log when a replay reports {@code STREAM DIVERGES} (docs/operations/rewind.md).
 * Directly against Kafka only: the aggregator must be stopped, so there is no service to ask.
 */
@Command(name = "rewind-aggregator", mixinStandardHelpOptions = true,
        description = "Rewind the stopped aggregator to a month (its inputs, changelogs and local state) so that, restarted,"
                + " it recounts and republishes every summary from there; for when a replay reports STREAM DIVERGES.")
final class RewindAggregatorCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    static final class Range {
        @Option(names = "--month", paramLabel = "YYYY-MM", required = true, description = "rewind to the start of this month (UTC)")
        YearMonth month;

        @Option(names = "--from", paramLabel = "TIMESTAMP", required = true,
                description = "rewind to the start of the month holding this instant (RFC 3339)")
        Instant from;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Range range;

    @Option(names = "--dry-run", description = "show what would be done (offsets per partition, topics, state); change nothing")
    boolean dryRun;

    @Option(names = "--yes", description = "do not ask for confirmation")
    boolean yes;

    private final Map<String, String> env;
    private final Clock clock = Clock.systemUTC();

    RewindAggregatorCommand(Map<String, String> env) {
        this.env = env;
    }

    @Override
    public Integer call() throws Exception {
        ReplayRange r = range.month != null ? ReplayRange.month(range.month) : ReplayRange.from(range.from, clock.instant());
        AggregatorConfig aggregator = AggregatorConfig.fromEnv(env);
        AggregatorRewind rewind = new AggregatorRewind(aggregator, MeterEnvironment.of(env)
                .duration("METER_INGEST_MAX_LATENESS", IngestConfig.DEFAULT_MAX_LATENESS), clock);
        say("via Kafka at " + aggregator.bootstrapServers());
        RewindPlan plan;
        try {
            plan = rewind.plan(r);
        } catch (ReplayRefusedException e) {
            say("refused: " + e.getMessage());
            return ReplayCommand.EXIT_REFUSED;
        }
        show(plan);
        var refusal = AggregatorRewind.refusal(plan);
        if (refusal.isPresent()) {
            say("refused: " + refusal.get());
            return ReplayCommand.EXIT_REFUSED;
        }
        if (dryRun) {
            out().println("dry run: nothing was changed");
            return 0;
        }
        if (!yes && !confirmed(plan)) {
            say("not rewound");
            return 1;
        }
        RewindReport report;
        try {
            report = rewind.rewind(plan);
        } catch (ReplayRefusedException e) {
            say("refused: " + e.getMessage());
            return ReplayCommand.EXIT_REFUSED;
        }
        print(report);
        return 0;
    }

    private boolean confirmed(RewindPlan plan) {
        java.io.Console console = System.console();
        if (console == null) {
            throw new IllegalArgumentException("rewind-aggregator discards the aggregator's state and rewinds it to "
                    + plan.rewindTo() + ": pass --yes (or --dry-run) when not at a terminal");
        }
        String answer = console.readLine("Rewind %s to %s, delete its changelogs and local state? [y/N] ",
                plan.applicationId(), plan.rewindTo());
        return answer != null && answer.trim().toLowerCase(Locale.ROOT).startsWith("y");
    }

    private void show(RewindPlan plan) {
        PrintWriter out = out();
        String would = dryRun ? "would " : "";
        out.printf(Locale.ROOT, "rewind of %s to %s: inputs %sgo back to %s (%s minus the dedupe window),"
                        + " %,d input records to read again%n", plan.applicationId(), plan.range(), would,
                plan.rewindTo(), plan.range().start(), plan.recordsToReread());
        for (RewindPlan.Position p : plan.positions()) {
            out.printf(Locale.ROOT, "  %s-%d: %s -> %d%n", p.partition().topic(), p.partition().partition(),
                    p.committed() == null ? "(none)" : Long.toString(p.committed()), p.rewoundTo());
        }
        out.println("internal topics " + (dryRun ? "to delete" : "deleted by the rewind") + ": "
                + (plan.internalTopics().isEmpty() ? "(none)" : String.join(", ", plan.internalTopics())));
        out.println("local state on this host: " + plan.localState()
                + (plan.localStatePresent() ? " (" + would + "be removed)" : " (not here)"));
        if (plan.leavesLateMonthsOut()) {
            out.println("WARNING: " + plan.oldestMonthStillReceivingEvents() + " and later months still receive late events"
                    + " (the ingest lateness bound), but the rewind starts at " + plan.range().firstMonth() + ": the"
                    + " aggregator's state before that is gone, so late events for earlier months would no longer be"
                    + " counted whole. Rewind to --month " + plan.oldestMonthStillReceivingEvents() + " or earlier.");
        }
        out.flush();
    }

    private void print(RewindReport report) {
        RewindPlan plan = report.plan();
        PrintWriter out = out();
        out.println("rewound " + plan.applicationId() + " to " + plan.rewindTo() + "; committed offsets now:");
        report.committed().entrySet().stream()
                .sorted(Map.Entry.comparingByKey(java.util.Comparator.comparing(Object::toString)))
                .forEach(e -> out.println("  " + e.getKey() + ": " + e.getValue()));
        out.println("deleted " + report.topicsDeleted().size() + " internal topics; local state here "
                + (report.localStateRemoved() ? "removed: " + plan.localState() : "not present: " + plan.localState()));
        out.println("next:");
        out.println("  1. on every other host that ran an aggregator instance, remove its local state too:"
                + " rm -rf \"$METER_AGGREGATOR_STATE_DIR/" + plan.applicationId() + "\" (here: " + plan.localState() + ")");
        out.println("  2. start the aggregator (every instance) with METER_AGGREGATOR_PUBLISH_FROM="
                + plan.range().firstMonth() + ": it republishes every summary from " + plan.range().firstMonth()
                + " on (the months before it, only partly re-read, stay unpublished)");
        out.println("  3. the sink writes the republished summaries to PostgreSQL; limit checks follow them as they come");
        out.println("  4. once it has caught up, `meter admin replay --month " + plan.range().firstMonth()
                + " --dry-run` should report no STREAM DIVERGES");
        out.flush();
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }

    private void say(String line) {
        spec.commandLine().getErr().println(line);
    }
}
