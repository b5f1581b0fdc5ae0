package io.usagemeter.cli.dev;

import java.io.PrintWriter;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The demo's live line: events sent, events/s, users over 80 % and 100 % of their limit. Rewritten
 * in place on a terminal; one line every few seconds when the output is a file or a pipe.
 */
final class DemoDisplay implements Consumer<DemoTraffic.Progress> {

    private static final long PIPE_INTERVAL_NANOS = 3_000_000_000L;

    private final PrintWriter out;
    private final boolean terminal;
    private long lastPrinted;

    DemoDisplay(PrintWriter out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    @Override
    public synchronized void accept(DemoTraffic.Progress p) {
        String line = String.format("  demo: %,d events sent  %,.0f events/s  users >= 80 %%: %d  >= 100 %%: %d%s",
                p.eventsSent(), p.eventsPerSecond(), p.usersOver80(), p.usersOver100(), p.done() ? "  (done)" : "");
        if (terminal) {
            out.print("\r" + line + "   ");
            if (p.done()) {
                out.println();
            }
            out.flush();
        } else if (p.done() || System.nanoTime() - lastPrinted >= PIPE_INTERVAL_NANOS) {
            out.println(line);
            out.flush();
            lastPrinted = System.nanoTime();
        }
    }

    void summary(DemoTraffic.Summary summary) {
        out.println();
        out.printf("Demo: %,d events (%,d duplicates, %,d late) for %d users, %d referrals completed, usage of %s reset"
                        + " by an admin%s%n", summary.eventsSent(), summary.duplicatesSent(), summary.lateSent(),
                summary.limits().size(), summary.referralsCompleted(), summary.resetUser(),
                summary.refused() > 0 ? ", " + summary.refused() + " refused by ingest" : "");
        if (!summary.caughtUp()) {
            out.println("  (the enforcer had not counted everything yet when this table was read)");
        }
        Map<String, Long> states = DemoTraffic.states(summary.limits());
        out.printf("States this month: %d ok, %d warning (>= 80 %%), %d exceeded (>= 100 %%). Top users, from GET /v1/limits:%n",
                states.get("ok"), states.get("warning"), states.get("exceeded"));
        DemoTraffic.table(summary.top(10), summary.resetUser()).forEach(out::println);
        out.println();
        out.println("The stack keeps running: try the curl lines above, or `./meter admin users`. Ctrl-C stops it.");
        out.flush();
    }
}
