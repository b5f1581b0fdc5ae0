package io.usagemeter.cli;

import io.usagemeter.cli.load.LoadGenerator;
import io.usagemeter.cli.load.LoadReport;
import io.usagemeter.schema.config.ApiAccess;
import io.usagemeter.schema.config.MeterEnvironment;
import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code meter load}: open-loop load at a fixed rate against HTTP ingest, latency without coordinated omission. */
@Command(name = "load", mixinStandardHelpOptions = true,
        description = {"Open-loop load at a fixed rate over HTTP ingest (POST $METER_INGEST_URL/v1/events with "
                + "$METER_API_KEY, e.g. after `source .meter/dev.env`), over at most --connections keep-alive connections.",
            "Latency is measured from each request's intended send time (coordinated omission corrected).",
            "Answers are reported by kind: 202, other 2xx, 3xx, 4xx, 503 with Retry-After, other 5xx, connect refused,"
                    + " timeout, connection closed. Exit 0 only when every request was accepted.",
            "See docs/operations/load.md."})
final class LoadCommand implements Callable<Integer> {

    private final Map<String, String> env;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--rate", required = true, paramLabel = "N|max",
            description = "events per second offered; `max` for a closed loop (each connection sends its next request"
                    + " when its answer is read: what the server takes at --connections requests in flight)")
    String rate;

    @Option(names = "--users", defaultValue = "1000", paramLabel = "U", description = "distinct users (default ${DEFAULT-VALUE})")
    int users;

    @Option(names = "--duration", defaultValue = "30s", paramLabel = "D",
            description = "how long: 500ms, 30s, 5m, 1h or ISO-8601 like PT2M (default ${DEFAULT-VALUE})")
    String duration;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "B",
            description = "events per request, 1 to 1000 (default ${DEFAULT-VALUE}: single-event requests)")
    int batch;

    @Option(names = "--connections", defaultValue = "" + LoadGenerator.DEFAULT_CONNECTIONS, paramLabel = "N",
            description = "connections open at most at once; a request due while all are busy waits for one, and that"
                    + " wait counts in its latency (default ${DEFAULT-VALUE})")
    int connections;

    @Option(names = "--timeout", defaultValue = "10s", paramLabel = "D",
            description = "from sending a request (or opening its connection) to its whole answer (default ${DEFAULT-VALUE})")
    String timeout;

    @Option(names = "--retry", arity = "0..1", paramLabel = "WITHIN", fallbackValue = "60s",
            description = "send a request again after 503/429 (after its Retry-After), other 5xx or no answer, with"
                    + " backoff, as UsageClient does, until WITHIN after it was first due (--retry alone: 60s);"
                    + " retries are counted apart")
    String retryWithin;

    LoadCommand(Map<String, String> env) {
        this.env = env;
    }

    @Override
    public Integer call() throws Exception {
        ApiAccess access = ApiAccess.from(MeterEnvironment.of(env));
        String base = access.ingestUrl().toString();
        String apiKey = access.apiKey();
        URI events = URI.create(base.endsWith("/v1/events") ? base : base.replaceAll("/+$", "") + "/v1/events");
        Duration length = parseDuration("--duration", duration);
        Duration answerTimeout = parseDuration("--timeout", timeout);
        boolean closedLoop = rate.strip().equalsIgnoreCase("max");
        if (closedLoop && retryWithin != null) {
            throw new IllegalArgumentException("--retry applies to an open loop (--rate N), not to --rate max");
        }
        var plan = closedLoop
                ? LoadGenerator.Plan.closedLoop(events, apiKey, users, length, batch, connections, answerTimeout)
                : new LoadGenerator.Plan(events, apiKey, parseRate(rate), users, length, batch, connections, answerTimeout,
                        retryWithin == null ? Duration.ZERO : parseDuration("--retry", retryWithin));
        PrintWriter err = spec.commandLine().getErr();
        err.printf(Locale.ROOT, "offering %s over %d users for %s to %s, %d per request, at most %d connections%s%n",
                closedLoop ? "a closed loop" : plan.eventsPerSecond() + " events/s", users, plan.duration(), events, batch,
                connections, plan.retryWithin().isZero() ? "" : ", retrying within " + plan.retryWithin());
        err.flush();
        LoadReport report = new LoadGenerator().run(plan);
        PrintWriter out = spec.commandLine().getOut();
        out.println(report.summary());
        out.flush();
        return report.allAccepted() ? 0 : 1;
    }


    private static int parseRate(String text) {
        try {
            return Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--rate: events per second (a whole number) or `max`, not " + text, e);
        }
    }

    static Duration parseDuration(String option, String text) {
        try {
            return MeterEnvironment.parseDuration(text.toLowerCase(Locale.ROOT));
        } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException(option + ": not a duration: " + text + " (try 30s, 5m or PT2M)", e);
        }
    }
}
