package io.usagemeter.cli;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import java.time.Clock;
import java.util.concurrent.Callable;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** One service against external Kafka and PostgreSQL. Each arrives with its own issue. */
final class ServiceCommands {

    private ServiceCommands() {}

    abstract static class NotYet implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        abstract String issue();

        @Override
        public Integer call() {
            spec.commandLine().getErr().println(
                    "meter " + spec.name() + ": arrives with issue " + issue() + "; not available in this build.");
            return 2;
        }
    }

    @Command(name = "ingest", description = "Run the HTTP ingest service.")
    static final class Ingest extends NotYet {
        @Override
        String issue() {
            return "#3";
        }
    }

    @Command(name = "aggregator", mixinStandardHelpOptions = true,
            description = "Run the aggregator: dedupe and monthly usage summaries (Kafka Streams); configured by METER_* variables.")
    static final class Aggregator implements Callable<Integer> {
        @ParentCommand
        Meter meter;

        @Override
        public Integer call() throws InterruptedException {
            AggregatorService service = new AggregatorService(AggregatorConfig.fromEnv(meter.environment()), Clock.systemUTC());
            Runtime.getRuntime().addShutdownHook(new Thread(service::close, "meter-aggregator-shutdown"));
            service.start();
            service.awaitStop();
            return service.state() == KafkaStreams.State.ERROR ? 1 : 0;
        }
    }

    @Command(name = "enforcer", description = "Run the limits enforcer (Kafka Streams + limit checks).")
    static final class Enforcer extends NotYet {
        @Override
        String issue() {
            return "#5";
        }
    }
}
