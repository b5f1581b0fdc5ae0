package io.usagemeter.cli;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.cli.replay.AggregatorReplayRunner;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerMain;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.streams.KafkaStreams;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

/** One service against external Kafka and PostgreSQL. */
final class ServiceCommands {

    private ServiceCommands() {}

    /**
     * {@code meter ingest}: the HTTP ingest service configured from {@code METER_*} variables,
     * running until the process is stopped; a named shutdown hook stops it cleanly.
     */
    @Command(name = "ingest", mixinStandardHelpOptions = true, description = "Run the HTTP ingest service (config from METER_INGEST_*, METER_KAFKA_BOOTSTRAP, METER_DB_*).")
    static final class Ingest implements Callable<Integer> {
        @ParentCommand
        Meter meter;

        @Override
        public Integer call() throws InterruptedException {
            IngestConfig config = IngestConfig.fromEnv(meter.environment());
            IngestService service = IngestService.create(config).start();
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                service.close();
                stopped.countDown();
            }, "meter-ingest-shutdown"));
            stopped.await();
            return 0;
        }
    }

    @Command(name = "aggregator", mixinStandardHelpOptions = true,
            description = "Run the aggregator: dedupe and monthly usage summaries (Kafka Streams); configured by METER_* variables.")
    static final class Aggregator implements Callable<Integer> {
        @ParentCommand
        Meter meter;

        @picocli.CommandLine.Option(names = "--no-sink",
                description = "Run only the Streams app (summaries to Kafka); no PostgreSQL writer.")
        boolean noSink;

        @Override
        public Integer call() throws InterruptedException {
            AggregatorConfig config = AggregatorConfig.fromEnv(meter.environment());
            SinkConfig sinkConfig = noSink ? null : SinkConfig.fromEnvironment(meter.environment());
            AggregatorService service = new AggregatorService(config, Clock.systemUTC(), sinkConfig);
            Runtime.getRuntime().addShutdownHook(new Thread(service::close, "meter-aggregator-shutdown"));
            service.start();
            service.awaitStop();
            return service.state() == KafkaStreams.State.ERROR ? 1 : 0;
        }
    }

    /**
     * {@code meter enforcer}: the limits enforcer configured from {@code METER_*} variables, running until the
     * process is stopped; a named shutdown hook stops it cleanly. Its admin replays run in this process with the
     * aggregator's replayer, which reads the aggregator's variables so it decides as the live aggregator does.
     */
    @Command(name = "enforcer", description = "Run the limits enforcer (Kafka Streams + limit checks; config from "
            + "METER_ENFORCER_*, METER_ADMIN_*, METER_KAFKA_BOOTSTRAP, METER_DB_*).")
    static final class Enforcer implements Callable<Integer> {
        @ParentCommand
        Meter meter;

        @Override
        public Integer call() throws InterruptedException {
            Map<String, String> env = meter.environment();
            EnforcerMain.run(EnforcerService.create(EnforcerConfig.fromEnv(env), AggregatorReplayRunner.fromEnv(env)));
            return 0;
        }
    }
}
