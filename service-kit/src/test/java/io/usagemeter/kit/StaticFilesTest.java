package io.usagemeter.kit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The kit's static files: a page and its assets from the classpath, each set with its own headers. */
class StaticFilesTest {

    private static final String CSP = "default-src 'none'; script-src 'self'";

    private final HttpClient http = HttpClient.newHttpClient();
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private ServiceServer server;

    @BeforeEach
    void start() {
        server = ServiceServer.builder("static-test", registry)
                .route(Route.get("/v1/open", "open", Access.open(), (ctx, caller) -> ServiceServer.json(ctx, 200, Map.of())))
                // The more specific set first: it answers for its prefix, the general one for the rest.
                .staticFiles(StaticFiles.of("/site/assets/vendor", "/static-vendor", StaticFiles.CACHE_IMMUTABLE, Map.of()))
                .staticFiles(StaticFiles.of("/site", "/static-site", StaticFiles.CACHE_NEVER,
                        Map.of("Content-Security-Policy", CSP)))
                .build()
                .start(0);
    }

    @AfterEach
    void stop() {
        server.close();
        registry.close();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + server.port() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theDirectoryAnswersWithItsIndexAndTheSetsHeaders() throws Exception {
        HttpResponse<String> index = get("/site/");
        assertThat(index.statusCode()).isEqualTo(200);
        assertThat(index.body()).contains("<title>kit static test</title>");
        assertThat(index.headers().firstValue("Content-Type")).get().asString().startsWith("text/html");
        assertThat(index.headers().firstValue("Cache-Control")).contains("no-store");
        assertThat(index.headers().firstValue("Content-Security-Policy")).contains(CSP);
        assertThat(index.headers().firstValue("X-Content-Type-Options")).contains("nosniff");
    }

    @Test
    void assetsCarryTheirTypeAndTheMoreSpecificSetAnswersItsPrefix() throws Exception {
        HttpResponse<String> own = get("/site/assets/app.js");
        assertThat(own.statusCode()).isEqualTo(200);
        assertThat(own.body()).contains("\"own\"");
        assertThat(own.headers().firstValue("Content-Type")).get().asString().contains("javascript");

        HttpResponse<String> vendor = get("/site/assets/vendor/lib.js");
        assertThat(vendor.statusCode()).isEqualTo(200);
        assertThat(vendor.body()).contains("\"vendor\"");
        assertThat(vendor.headers().firstValue("Cache-Control")).contains(StaticFiles.CACHE_IMMUTABLE);
        assertThat(vendor.headers().firstValue("Content-Security-Policy")).isEmpty();
    }

    @Test
    void aMissingFileOrAPathOutsideTheDirectoryIsTheKitsJson404() throws Exception {
        for (String path : new String[] {"/site/assets/missing.js", "/site/../static-vendor/lib.js", "/site/%2e%2e/static-vendor/lib.js"}) {
            HttpResponse<String> missing = get(path);
            assertThat(missing.statusCode()).as(path).isIn(400, 404);
            assertThat(missing.body()).as(path).doesNotContain("export const");
        }
        HttpResponse<String> missing = get("/site/assets/missing.js");
        assertThat(Json.tree(missing.body()).get("error").asText()).isEqualTo("no route GET /site/assets/missing.js");
        assertThat(get("/v1/open").statusCode()).as("routes still answer").isEqualTo(200);
    }

    @Test
    void aSetMustNameAbsolutePaths() {
        assertThatThrownBy(() -> StaticFiles.of("site", "/static-site", StaticFiles.CACHE_NEVER, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("hostedPath");
        assertThatThrownBy(() -> StaticFiles.of("/site/", "/static-site", StaticFiles.CACHE_NEVER, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("hostedPath");
        assertThatThrownBy(() -> StaticFiles.of("/site", "static-site", StaticFiles.CACHE_NEVER, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("classpathDirectory");
    }
}
