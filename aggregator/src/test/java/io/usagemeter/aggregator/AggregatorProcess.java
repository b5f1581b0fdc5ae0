package io.usagemeter.aggregator;

import io.usagemeter.aggregator.sink.SinkConfig;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/**
 * The aggregator with its sink in a JVM of its own, so that a test can kill it without a clean
 * shutdown ({@code SIGKILL}): no close, no commit, no leaving the group. No shutdown hook either.
 *
 * <p>Arguments: bootstrap servers, application id, state directory, sink name, database JDBC URL,
 * database user. Prints {@code READY <http port>} once started.
 */
public final class AggregatorProcess {

    private AggregatorProcess() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            throw new IllegalArgumentException("usage: AggregatorProcess BOOTSTRAP APP_ID STATE_DIR SINK_NAME DB_URL DB_USER");
        }
        AggregatorConfig config = AggregatorConfig.defaults(args[0], Path.of(args[2])).withApplicationId(args[1]);
        SinkConfig sink = SinkConfig.fromEnvironment(Map.of(
                        SinkConfig.KAFKA_BOOTSTRAP, args[0], SinkConfig.DB_URL, args[4], SinkConfig.DB_USER, args[5]))
                .withName(args[3])
                .withRetryBackoff(Duration.ofMillis(50), Duration.ofMillis(500));
        AggregatorService service = new AggregatorService(config, Clock.systemUTC(), sink).start();
        System.out.println("READY " + service.httpPort());
        System.out.flush();
        service.awaitStop();
    }
}
