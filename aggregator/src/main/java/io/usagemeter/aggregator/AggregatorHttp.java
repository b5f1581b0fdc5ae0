package io.usagemeter.aggregator;

import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.schema.json.Json;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;

/**
 * The aggregator's operational endpoints: {@code GET /metrics} (Prometheus text), {@code GET
 * /health/live} (the Streams instance has not died) and {@code GET /health/ready} (it is
 * {@code RUNNING}: assigned, restored and processing). Not ready answers 503 with the reason.
 */
public final class AggregatorHttp implements AutoCloseable {

    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

    private final Javalin app;

    /** Serves the endpoints for the instance whose state {@code streamsState} reports. */
    public AggregatorHttp(Supplier<KafkaStreams.State> streamsState, PrometheusMeterRegistry registry) {
        this(streamsState, () -> true, registry);
    }

    /**
     * Serves the endpoints for the instance whose state {@code streamsState} reports; ready also needs
     * {@code sinkReady} (the PostgreSQL sink can write).
     */
    public AggregatorHttp(Supplier<KafkaStreams.State> streamsState, java.util.function.BooleanSupplier sinkReady,
            PrometheusMeterRegistry registry) {
        this.app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.routes.get("/metrics", ctx -> ctx.contentType(PROMETHEUS_TEXT).result(registry.scrape()));
            config.routes.get("/health/live", ctx -> {
                KafkaStreams.State state = streamsState.get();
                boolean live = state != KafkaStreams.State.ERROR && state != KafkaStreams.State.NOT_RUNNING
                        && state != KafkaStreams.State.PENDING_ERROR && state != KafkaStreams.State.PENDING_SHUTDOWN;
                answer(ctx, live, "not live", state);
            });
            config.routes.get("/health/ready", ctx -> {
                KafkaStreams.State state = streamsState.get();
                if (state == KafkaStreams.State.RUNNING && !sinkReady.getAsBoolean()) {
                    ctx.status(503).contentType("application/json").result(Json.write(Map.of("error", "not ready",
                            "details", List.of("the PostgreSQL sink cannot write (retrying with backoff)"))));
                    return;
                }
                answer(ctx, state == KafkaStreams.State.RUNNING, "not ready", state);
            });
        });
    }

    /** Starts serving on {@code port} (0 for a free one) and returns the port. */
    public int start(int port) {
        app.start(port);
        return app.port();
    }

    public int port() {
        return app.port();
    }

    @Override
    public void close() {
        app.stop();
    }

    private static void answer(Context ctx, boolean ok, String error, KafkaStreams.State state) {
        Object body = ok
                ? Map.of("status", "ok", "streams_state", state.name())
                : Map.of("error", error, "details", List.of("kafka streams state is " + state.name()));
        ctx.status(ok ? 200 : 503).contentType("application/json").result(Json.write(body));
    }
}
