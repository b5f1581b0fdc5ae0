package io.usagemeter.cli;

import io.usagemeter.cli.dev.DevPorts;
import io.usagemeter.cli.dev.DevRunner;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "dev", mixinStandardHelpOptions = true,
        description = {
            "Run the whole pipeline in one process: embedded Kafka (KRaft) and PostgreSQL (databases meter_dev and"
                    + " meter_prod, schema synced), the topics, and every service of this build.",
            "Writes .meter/dev.env (mode 600): `source .meter/dev.env` and every meter verb and curl works against it.",
            "Ports from --port-base N: Kafka N, PostgreSQL N+1, ingest N+10, enforcer N+20, aggregator metrics N+30,"
                    + " notifier N+40.",
            "Logs go to DIR/logs/ (one file per service, Kafka and PostgreSQL); the terminal shows the banner, the demo"
                    + " and errors, and with --verbose every log line too.",
            "Ctrl-C stops everything; the data stays in --data for the next start."})
final class DevCommand implements Callable<Integer> {

    @ParentCommand
    Meter meter;

    @Spec
    CommandSpec spec;

    @Option(names = "--demo", description = "Also drive sample traffic (a few hundred users over two months) and show the top users.")
    boolean demo;

    @Option(names = "--fresh", description = "Wipe the data directory first (topics, databases, keys, tokens).")
    boolean fresh;

    @Option(names = "--data", paramLabel = "DIR", defaultValue = ".meter",
            description = "Data directory, kept across restarts (default: ${DEFAULT-VALUE}).")
    Path data;

    @Option(names = "--port-base", paramLabel = "N", defaultValue = "" + DevPorts.DEFAULT_BASE,
            description = "First port of the stack (default: ${DEFAULT-VALUE}).")
    int portBase;

    @Option(names = "--verbose", description = "Also show the services' logs here (they always go to DIR/logs/).")
    boolean verbose;

    @Override
    public Integer call() throws InterruptedException {
        return new DevRunner(new DevRunner.Options(data, fresh, demo, portBase, verbose), meter.environment(),
                spec.commandLine().getOut()).run();
    }
}
