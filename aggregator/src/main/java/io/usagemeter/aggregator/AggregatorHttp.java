package io.usagemeter.aggregator;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.kit.Health;
import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.ServiceServer;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The aggregator's operational endpoints on the kit's server: {@code GET /metrics}, {@code GET
 * /health/live} (the Streams instance has not died) and {@code GET /health/ready} (it is
 * {@code RUNNING}: assigned, restored and processing, and the PostgreSQL sink is writing).
 */
public final class AggregatorHttp implements AutoCloseable {

    private static final Set<KafkaStreams.State> DEAD = EnumSet.of(KafkaStreams.State.ERROR,
            KafkaStreams.State.NOT_RUNNING, KafkaStreams.State.PENDING_ERROR, KafkaStreams.State.PENDING_SHUTDOWN);

    private final ServiceServer server;

    /** Serves the endpoints for the instance whose state {@code streamsState} reports. */
    public AggregatorHttp(Supplier<KafkaStreams.State> streamsState, PrometheusMeterRegistry registry) {
        this(streamsState, () -> true, registry, HttpLimits.defaults());
    }

    /**
     * Serves the endpoints for the instance whose state {@code streamsState} reports; ready also needs
     * {@code sinkReady} (the PostgreSQL sink can write).
     */
    public AggregatorHttp(Supplier<KafkaStreams.State> streamsState, BooleanSupplier sinkReady,
                          PrometheusMeterRegistry registry, HttpLimits limits) {
        this.server = ServiceServer.builder("aggregator", registry)
                .limits(limits)
                .live(Health.Check.of("streams", () -> {
                    KafkaStreams.State state = streamsState.get();
                    return Health.Result.of(!DEAD.contains(state), "kafka streams state is " + state.name());
                }))
                .ready(Health.Check.of("streams", () -> {
                    KafkaStreams.State state = streamsState.get();
                    return Health.Result.of(state == KafkaStreams.State.RUNNING, "kafka streams state is " + state.name());
                }))
                .ready(Health.Check.of("sink", () -> sinkReady.getAsBoolean() ? Health.Result.up("writing")
                        : Health.Result.down("the PostgreSQL sink cannot write (retrying with backoff)")))
                .build();
    }

    /** Starts serving on {@code port} (0 for a free one) and returns the port. */
    public int start(int port) {
        server.start(port);
        return server.port();
    }

    public int port() {
        return server.port();
    }

    /** The routes its HTTP server answers ({@link ServiceServer#routes()}). */
    public List<String> routes() {
        return server.routes();
    }

    @Override
    public void close() {
        server.close();
    }
}
