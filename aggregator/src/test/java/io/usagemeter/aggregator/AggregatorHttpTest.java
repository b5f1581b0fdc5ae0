package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.streams.KafkaStreams.State;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AggregatorHttpTest {

    private static final HttpClient CLIENT = HttpClient.newHttpClient();

    private final AtomicReference<State> state = new AtomicReference<>(State.REBALANCING);
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private AggregatorHttp http;
    private int port;

    @BeforeEach
    void start() {
        registry.counter("meter_test_total").increment();
        http = new AggregatorHttp(state::get, registry);
        port = http.start(0);
    }

    @AfterEach
    void stop() {
        http.close();
        registry.close();
    }

    @Test
    void ready_only_when_running_and_says_why_not() throws Exception {
        HttpResponse<String> rebalancing = get("/health/ready");
        assertThat(rebalancing.statusCode()).isEqualTo(503);
        JsonNode body = Json.tree(rebalancing.body());
        assertThat(body.get("error").asText()).isEqualTo("not ready");
        assertThat(body.get("details").get(0).asText()).contains("REBALANCING");
        assertThat(get("/health/live").statusCode()).isEqualTo(200);

        state.set(State.RUNNING);
        assertThat(get("/health/ready").statusCode()).isEqualTo(200);
    }

    @Test
    void not_live_once_the_instance_died() throws Exception {
        state.set(State.ERROR);

        assertThat(get("/health/live").statusCode()).isEqualTo(503);
        assertThat(get("/health/ready").statusCode()).isEqualTo(503);
    }

    @Test
    void metrics_are_prometheus_text() throws Exception {
        HttpResponse<String> metrics = get("/metrics");

        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
        assertThat(metrics.body()).contains("meter_test_total 1.0");
    }

    @Test
    void health_and_errors_have_the_kits_shapes() throws Exception {
        state.set(State.RUNNING);
        JsonNode ready = Json.tree(get("/health/ready").body());
        assertThat(ready.get("status").asText()).isEqualTo("UP");
        assertThat(ready.at("/checks/streams/status").asText()).isEqualTo("UP");
        assertThat(ready.at("/checks/sink/status").asText()).isEqualTo("UP");
        HttpResponse<String> unknown = get("/v1/nothing");
        assertThat(unknown.statusCode()).isEqualTo(404);
        assertThat(Json.tree(unknown.body()).get("error").asText()).isEqualTo("no route GET /v1/nothing");
        assertThat(Json.tree(unknown.body()).get("details").isArray()).isTrue();
    }

    @Test
    void a_connection_flood_leaves_it_alive() throws Exception {
        try (AggregatorHttp capped = new AggregatorHttp(state::get, () -> true, registry,
                io.usagemeter.kit.HttpLimits.defaults().withMaxConnections(16))) {
            io.usagemeter.kit.testing.ConnectionFlood.check(capped.start(0), 16, 300);
        }
    }

    private HttpResponse<String> get(String path) throws Exception {
        return CLIENT.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
