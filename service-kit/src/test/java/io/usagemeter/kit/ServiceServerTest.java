package io.usagemeter.kit;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.kit.testing.ConnectionFlood;
import io.usagemeter.schema.json.Json;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The kit's server on its own: shapes, limits, metrics and bounds, with a few routes of its own. */
class ServiceServerTest {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicBoolean dependencyUp = new AtomicBoolean(true);
    private final CountDownLatch release = new CountDownLatch(1);
    private final CountDownLatch entered = new CountDownLatch(2);
    private ServiceServer server;

    private ServiceServer start(HttpLimits limits) throws Exception {
        JvmMetrics.bindTo(registry);
        server = ServiceServer.builder("test", registry)
                .limits(limits)
                .route(Route.get("/v1/things/{id}", "things", Access.open(), (ctx, caller) -> {
                    if (ctx.pathParam("id").equals("bad")) {
                        throw HttpProblem.badField("malformed id", "id", "must not be 'bad'");
                    }
                    if (ctx.pathParam("id").equals("boom")) {
                        throw new IllegalStateException("a bug");
                    }
                    ServiceServer.json(ctx, 200, Map.of("id", ctx.pathParam("id")));
                }))
                .route(Route.post("/v1/echo", "echo", Access.open(),
                        (ctx, caller) -> ServiceServer.json(ctx, 200, Map.of("length", ctx.body().length()))))
                .route(Route.get("/v1/slow", "slow", Access.open(), (ctx, caller) -> {
                    entered.countDown();
                    release.await(30, TimeUnit.SECONDS);
                    ServiceServer.json(ctx, 200, Map.of("done", true));
                }))
                .ready(Health.Check.of("dependency", () -> Health.Result.of(dependencyUp.get(),
                        dependencyUp.get() ? "answering" : "not answering")))
                .build()
                .start(0);
        return server;
    }

    @AfterEach
    void stop() {
        release.countDown();
        if (server != null) {
            server.close();
        }
        registry.close();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + server.port() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void assertErrorShape(HttpResponse<String> response, int status) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).get().asString().startsWith("application/json");
        JsonNode body = Json.tree(response.body());
        assertThat(body.get("error").isTextual()).as(response.body()).isTrue();
        assertThat(body.get("details").isArray()).as(response.body()).isTrue();
    }

    @Test
    void theRouteTableListsTheServicesRoutesAndTheOperationalOnes() throws Exception {
        start(HttpLimits.defaults());
        assertThat(server.routes()).containsExactly(
                "GET /health/live", "GET /health/ready", "GET /metrics", "GET /v1/slow", "GET /v1/things/{id}",
                "POST /v1/echo");
    }

    @Test
    void everyErrorHasTheOneShape() throws Exception {
        start(HttpLimits.defaults());
        HttpResponse<String> bad = get("/v1/things/bad");
        assertErrorShape(bad, 400);
        assertThat(Json.tree(bad.body()).get("details").get(0).get("field").asText()).isEqualTo("id");
        HttpResponse<String> notFound = get("/v1/nothing-here");
        assertErrorShape(notFound, 404);
        assertThat(Json.tree(notFound.body()).get("error").asText()).isEqualTo("no route GET /v1/nothing-here");
        assertErrorShape(http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + server.port() + "/v1/things/x"))
                .DELETE().build(), HttpResponse.BodyHandlers.ofString()), 405);
        HttpResponse<String> boom = get("/v1/things/boom");
        assertErrorShape(boom, 500);
        assertThat(boom.body()).doesNotContain("a bug");
        assertThat(get("/v1/things/fine").body()).isEqualTo("{\"id\":\"fine\"}");
    }

    @Test
    void healthHasTheOneShapeAndReadyNamesWhatIsDown() throws Exception {
        start(HttpLimits.defaults());
        HttpResponse<String> live = get("/health/live");
        assertThat(live.statusCode()).isEqualTo(200);
        assertThat(Json.tree(live.body()).get("status").asText()).isEqualTo("UP");
        HttpResponse<String> ready = get("/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(Json.tree(ready.body()).at("/checks/dependency/status").asText()).isEqualTo("UP");

        dependencyUp.set(false);
        HttpResponse<String> notReady = get("/health/ready");
        assertErrorShape(notReady, 503);
        JsonNode body = Json.tree(notReady.body());
        assertThat(body.get("status").asText()).isEqualTo("DOWN");
        assertThat(body.get("error").asText()).isEqualTo("not ready");
        assertThat(body.get("details").get(0).asText()).isEqualTo("dependency: not answering");
        assertThat(body.at("/checks/dependency/status").asText()).isEqualTo("DOWN");
        assertThat(get("/health/live").statusCode()).as("not ready is not dead").isEqualTo(200);
    }

    @Test
    void aBodyOverTheLimitIs413WithTheErrorShape() throws Exception {
        start(HttpLimits.defaults().withMaxBodyBytes(2048));
        HttpResponse<String> small = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + server.port() + "/v1/echo"))
                .POST(HttpRequest.BodyPublishers.ofString("x".repeat(2048))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(small.statusCode()).isEqualTo(200);
        HttpResponse<String> large = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + server.port() + "/v1/echo"))
                .POST(HttpRequest.BodyPublishers.ofString("x".repeat(2049))).build(), HttpResponse.BodyHandlers.ofString());
        assertErrorShape(large, 413);
    }

    @Test
    void metricsHaveTheJvmAndTheServersMeters() throws Exception {
        start(HttpLimits.defaults());
        get("/v1/things/a");
        get("/v1/things/bad");
        String metrics = get("/metrics").body();
        assertThat(metrics).contains("jvm_memory_used_bytes", "jvm_gc_", "jvm_threads_live_threads",
                "jvm_classes_loaded_classes", "system_cpu_count", "process_uptime_seconds");
        assertThat(metrics).contains("meter_test_request_seconds_count{route=\"things\",status=\"200\"} 1",
                "meter_test_request_seconds_count{route=\"things\",status=\"400\"} 1",
                "meter_http_connections_open{service=\"test\"}", "meter_http_requests_in_flight{service=\"test\"}",
                "meter_http_requests_shed_total{service=\"test\"} 0", "meter_http_connections_refused_total{service=\"test\"}");
    }

    @Test
    void pastTheInFlightBoundARequestIsShedAtOnceWith503AndRetryAfter() throws Exception {
        start(HttpLimits.defaults().withMaxInFlight(2));
        List<CompletableFuture<HttpResponse<String>>> held = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            held.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://localhost:" + server.port() + "/v1/slow"))
                    .GET().build(), HttpResponse.BodyHandlers.ofString()));
        }
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
        long before = System.nanoTime();
        HttpResponse<String> shed = get("/v1/things/a");
        assertErrorShape(shed, 503);
        assertThat(shed.headers().firstValue("Retry-After")).contains("1");
        assertThat(Duration.ofNanos(System.nanoTime() - before)).as("answered at once, not queued behind the held requests")
                .isLessThan(Duration.ofSeconds(5));
        assertThat(get("/health/live").statusCode()).as("health is not shed").isEqualTo(200);
        assertThat(get("/metrics").body()).contains("meter_http_requests_shed_total{service=\"test\"} 1.0");

        release.countDown();
        for (CompletableFuture<HttpResponse<String>> f : held) {
            assertThat(f.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
        }
        assertThat(get("/v1/things/a").statusCode()).as("served again once below the bound").isEqualTo(200);
    }

    @Test
    void aConnectionFloodIsRefusedAndTheServerStaysAlive() throws Exception {
        start(HttpLimits.defaults().withMaxConnections(16));
        ConnectionFlood.check(server.port(), 16, 300);
        assertThat(get("/metrics").body()).containsPattern("meter_http_connections_refused_total\\{service=\"test\"\\} [1-9]");
    }
}
