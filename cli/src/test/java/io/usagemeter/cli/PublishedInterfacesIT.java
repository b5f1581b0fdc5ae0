package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.auth.AdminJwtSettings;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.notifier.NotifierConfig;
import io.usagemeter.notifier.NotifierService;
import io.usagemeter.notifier.internal.RetrySchedule;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.vault.TokenKeyset;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.streams.KafkaStreams;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the repository publishes about the services agrees with the services themselves (ingest, aggregator,
 * enforcer, notifier), started for real on the embedded stack (one stack for both checks, to keep the suite
 * short):
 * <ul>
 *   <li>{@code docs/openapi.yaml} is valid OpenAPI 3.1 (swagger-parser) and names exactly the routes each
 *       service registers: each operation lists its services in {@code x-services};</li>
 *   <li>every metric the Grafana dashboard ({@code deploy/grafana/dashboards/usage-meter.json}) queries is
 *       exported on {@code /metrics} by one of the services, after a little traffic (which includes one
 *       webhook delivery, so the notifier's delivery counters exist).</li>
 * </ul>
 */
class PublishedInterfacesIT {

    private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
    private static final Path SPEC = ROOT.resolve("docs/openapi.yaml");
    private static final Path DASHBOARD = ROOT.resolve("deploy/grafana/dashboards/usage-meter.json");

    @TempDir
    static Path stateDir;

    private static TestStack stack;
    private static IngestService ingest;
    private static AggregatorService aggregator;
    private static EnforcerService enforcer;
    private static NotifierService notifier;
    /** Where the notifier delivers the limit events the traffic causes. */
    private static HttpServer webhookReceiver;
    private static final String ADMIN_EMAIL = "published-interfaces@example.com";
    private static final String ADMIN_JWT_SECRET = "published-interfaces-it-admin-jwt-secret-of-32-bytes";
    private static String apiKey;
    private static final HttpClient http = HttpClient.newHttpClient();

    /** The services the spec's {@code x-services} may name, each with its route table. A new service is one line. */
    private static Map<String, Supplier<List<String>>> routeTables() {
        Map<String, Supplier<List<String>>> tables = new TreeMap<>();
        tables.put("ingest", ingest::routes);
        tables.put("aggregator", aggregator::routes);
        tables.put("enforcer", enforcer::routes);
        tables.put("notifier", notifier::routes);
        return tables;
    }

    /** The services whose {@code /metrics} the dashboard may query, by base URL. */
    private static Map<String, String> metricsUrls() {
        return Map.of(
                "ingest", "http://localhost:" + ingest.port(),
                "aggregator", "http://localhost:" + aggregator.httpPort(),
                "enforcer", "http://localhost:" + enforcer.port(),
                "notifier", "http://localhost:" + notifier.port());
    }

    @BeforeAll
    static void start() {
        stack = TestStack.start();
        String bootstrap = stack.kafkaBootstrap();
        String dbUrl = stack.jdbcUrl("meter");
        DataSource dataSource = stack.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        apiKey = new ApiKeyStore(dataSource, Clock.systemUTC()).issue("published-interfaces-it", ApiKeyScopes.ALL).secret();
        ingest = IngestService.create(IngestConfig.defaults(bootstrap, dbUrl, stack.user(), stack.password()).withPort(0))
                .start();
        SinkConfig sink = new SinkConfig(bootstrap, "published-interfaces-sink", SinkTopics.standard(),
                SinkConfig.DEFAULT_MAX_POLL_RECORDS, Duration.ofMillis(50), Duration.ofMillis(400), dbUrl, stack.user(),
                stack.password());
        aggregator = new AggregatorService(AggregatorConfig.defaults(bootstrap, stateDir.resolve("aggregator"))
                .withApplicationId("published-interfaces-aggregator"), Clock.systemUTC(), sink).start();
        enforcer = new EnforcerService(EnforcerConfig.defaults(bootstrap, stateDir.resolve("enforcer"), dbUrl,
                stack.user(), stack.password()).withApplicationId("published-interfaces-enforcer"),
                DSL.using(dataSource, SQLDialect.POSTGRES), Clock.systemUTC(), new Properties()).start();
        notifier = new NotifierService(new NotifierConfig(bootstrap, "published-interfaces-notifier", 0, dbUrl,
                stack.user(), stack.password(), TokenKeyset.generate(), RetrySchedule.DEFAULT, true,
                new AdminJwtSettings(ADMIN_JWT_SECRET, null, Set.of(ADMIN_EMAIL), null, null), null),
                dataSource, null, Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(90)).until(() -> aggregator.state() == KafkaStreams.State.RUNNING
                && enforcer.streams().state() == KafkaStreams.State.RUNNING
                && get("http://localhost:" + notifier.port() + "/health/ready", null).statusCode() == 200);
    }

    @AfterAll
    static void stop() {
        if (webhookReceiver != null) {
            webhookReceiver.stop(0);
        }
        for (AutoCloseable service : new AutoCloseable[] {notifier, enforcer, aggregator, ingest, stack}) {
            if (service != null) {
                try {
                    service.close();
                } catch (Exception e) {
                    // keep closing the others
                }
            }
        }
    }

    // ---- docs/openapi.yaml

    @Test
    void theSpecIsValidOpenApi31() throws Exception {
        SwaggerParseResult result = parseSpec();
        assertThat(result.getMessages()).as("swagger-parser's messages on " + SPEC).isEmpty();
        assertThat(result.getOpenAPI().getOpenapi()).startsWith("3.1");
        assertThat(result.getOpenAPI().getPaths()).isNotEmpty();
    }

    @Test
    void theSpecNamesExactlyTheRoutesEachServiceRegisters() throws Exception {
        Map<String, Set<String>> specified = routesInSpec(parseSpec().getOpenAPI());
        Map<String, Supplier<List<String>>> tables = routeTables();
        assertThat(tables.keySet()).as("services named in x-services of " + SPEC + " that this test does not start")
                .containsAll(specified.keySet());
        for (Map.Entry<String, Supplier<List<String>>> service : tables.entrySet()) {
            Set<String> registered = new TreeSet<>(service.getValue().get());
            assertThat(registered).as(service.getKey() + " registers no route").isNotEmpty();
            Set<String> inSpec = specified.getOrDefault(service.getKey(), Set.of());
            Set<String> missing = new TreeSet<>(registered);
            missing.removeAll(inSpec);
            Set<String> unknown = new TreeSet<>(inSpec);
            unknown.removeAll(registered);
            assertThat(missing).as(service.getKey() + ": registered but missing from " + SPEC).isEmpty();
            assertThat(unknown).as(service.getKey() + ": in " + SPEC + " but not registered").isEmpty();
        }
    }

    private static SwaggerParseResult parseSpec() throws Exception {
        ParseOptions options = new ParseOptions();
        options.setResolve(true);
        SwaggerParseResult result = new OpenAPIV3Parser().readContents(Files.readString(SPEC), null, options);
        assertThat(result.getOpenAPI()).as(SPEC + " could not be read: " + result.getMessages()).isNotNull();
        return result;
    }

    /** "METHOD /path" of every operation, by each service its {@code x-services} names. */
    static Map<String, Set<String>> routesInSpec(OpenAPI spec) {
        Map<String, Set<String>> byService = new TreeMap<>();
        spec.getPaths().forEach((path, item) -> item.readOperationsMap().forEach((method, operation) -> {
            String route = method.name().toUpperCase(Locale.ROOT) + " " + path;
            for (String service : services(route, operation)) {
                byService.computeIfAbsent(service, s -> new TreeSet<>()).add(route);
            }
        }));
        return byService;
    }

    private static List<String> services(String route, Operation operation) {
        Object named = operation.getExtensions() == null ? null : operation.getExtensions().get("x-services");
        assertThat(named).as(route + " in " + SPEC + " needs x-services: [service, ...]").isInstanceOf(List.class);
        List<String> services = new ArrayList<>();
        ((List<?>) named).forEach(s -> services.add(String.valueOf(s)));
        assertThat(services).as(route + ": x-services").isNotEmpty();
        return services;
    }

    // ---- the Grafana dashboard

    @Test
    void everyMetricTheDashboardQueriesIsExportedByAService() throws Exception {
        driveALittleTraffic();
        Map<String, Set<String>> exported = new TreeMap<>();
        for (Map.Entry<String, String> service : metricsUrls().entrySet()) {
            HttpResponse<String> scrape = get(service.getValue() + "/metrics", null);
            assertThat(scrape.statusCode()).isEqualTo(200);
            exported.put(service.getKey(), sampleNames(scrape.body()));
        }
        Map<String, Set<String>> queried = metricsQueriedBy(Json.tree(Files.readString(DASHBOARD)));
        assertThat(queried).as("panels with PromQL queries in " + DASHBOARD).isNotEmpty();
        Map<String, Set<String>> unexported = new TreeMap<>();
        queried.forEach((panel, names) -> names.stream()
                .filter(name -> exported.values().stream().noneMatch(set -> set.contains(name)))
                .forEach(name -> unexported.computeIfAbsent(panel, p -> new TreeSet<>()).add(name)));
        assertThat(unexported).as("metrics queried by these panels that no service exports (exported: " + exported + ")")
                .isEmpty();
        // The users-per-state panel counts what the traffic left: one user at 50 %, one at 90 %.
        String enforcerMetrics = get(metricsUrls().get("enforcer") + "/metrics", null).body();
        assertThat(sampleValue(enforcerMetrics, "meter_enforcer_users{state=\"ok\"}")).isEqualTo(1.0);
        assertThat(sampleValue(enforcerMetrics, "meter_enforcer_users{state=\"warning\"}")).isEqualTo(1.0);
        assertThat(sampleValue(enforcerMetrics, "meter_enforcer_users{state=\"exceeded\"}")).isEqualTo(0.0);
    }

    private static double sampleValue(String exposition, String sample) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith(sample + " ")) {
                return Double.parseDouble(line.substring(sample.length() + 1).trim());
            }
        }
        throw new AssertionError("no sample " + sample + " in\n" + exposition);
    }

    /**
     * Accepted and refused events, limit checks, and usage that reaches the enforcer through the aggregator:
     * one free user (1000 units) at 500 units, one at 900, whose warning the notifier delivers to a webhook.
     */
    private static void driveALittleTraffic() throws Exception {
        String hook = receiveWebhooks();
        usesUnits(UUID.randomUUID(), 5);
        usesUnits(UUID.randomUUID(), 9);
        assertThat(post("http://localhost:" + ingest.port() + "/v1/events", "{\"event_id\": \"\"}").statusCode())
                .isEqualTo(400);
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
            HttpResponse<String> deliveries = get("http://localhost:" + notifier.port() + "/v1/admin/webhooks/" + hook
                    + "/deliveries", adminToken());
            assertThat(deliveries.statusCode()).as(deliveries.body()).isEqualTo(200);
            assertThat(Json.tree(deliveries.body()).get("deliveries").findValuesAsText("status")).as(deliveries.body())
                    .contains("succeeded");
        });
    }

    /** A local HTTP server that answers 204 to every delivery, registered on the notifier for limit warnings. */
    private static String receiveWebhooks() throws Exception {
        webhookReceiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        webhookReceiver.createContext("/hook", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        webhookReceiver.start();
        String registration = Json.write(Map.of("url", "http://127.0.0.1:" + webhookReceiver.getAddress().getPort()
                + "/hook", "event_types", List.of("limit.warning")));
        HttpResponse<String> registered = http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + notifier.port()
                        + "/v1/admin/webhooks")).header("Authorization", "Bearer " + adminToken())
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(registration)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(registered.statusCode()).as(registered.body()).isEqualTo(201);
        return Json.tree(registered.body()).get("id").asText();
    }

    private static String adminToken() {
        return AdminTokens.hs256(ADMIN_JWT_SECRET.getBytes(StandardCharsets.UTF_8), ADMIN_EMAIL, Duration.ofMinutes(10),
                Clock.systemUTC());
    }

    /** Posts {@code calls} events of 100 units each and waits until the enforcer counts them. */
    private static void usesUnits(UUID user, int calls) throws Exception {
        String ingestUrl = "http://localhost:" + ingest.port();
        String enforcerUrl = "http://localhost:" + enforcer.port();
        List<Map<String, Object>> events = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            Map<String, Object> event = new LinkedHashMap<>();
            event.put("event_id", "published-" + i);
            event.put("user_id", user.toString());
            event.put("occurred_at", Instant.now().minus(1, ChronoUnit.MINUTES).toString());
            event.put("provider", "openai");
            event.put("endpoint", "/v1/chat/completions");
            event.put("method", "POST");
            event.put("status_code", 200);
            event.put("response_time_ms", 120);
            event.put("request_bytes", 300);
            event.put("response_bytes", 900);
            event.put("units", 100);
            events.add(event);
        }
        assertThat(post(ingestUrl + "/v1/events", Json.write(events)).statusCode()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(90)).untilAsserted(() -> {
            HttpResponse<String> limit = get(enforcerUrl + "/v1/limits/" + user, apiKey);
            assertThat(limit.statusCode()).as(limit.body()).isEqualTo(200);
            assertThat(Json.tree(limit.body()).get("used").asLong()).isEqualTo(calls * 100L);
        });
    }

    /** Every PromQL expression of every panel (rows' nested panels included), by panel title. */
    static Map<String, Set<String>> metricsQueriedBy(JsonNode dashboard) {
        Map<String, Set<String>> byPanel = new TreeMap<>();
        List<JsonNode> panels = new ArrayList<>();
        dashboard.get("panels").forEach(panels::add);
        for (int i = 0; i < panels.size(); i++) {
            JsonNode panel = panels.get(i);
            if (panel.has("panels")) {
                panel.get("panels").forEach(panels::add);
            }
            if (panel.has("targets")) {
                for (JsonNode target : panel.get("targets")) {
                    String expr = target.path("expr").asText("");
                    assertThat(expr).as("panel '" + panel.path("title").asText() + "' has a target without expr").isNotBlank();
                    byPanel.computeIfAbsent(panel.path("title").asText(), t -> new TreeSet<>()).addAll(PromQl.metricNames(expr));
                }
            }
        }
        return byPanel;
    }

    /** Names of the samples in a Prometheus text exposition ({@code foo_total}, {@code foo_bucket}, ...). */
    static Set<String> sampleNames(String exposition) {
        Set<String> names = new TreeSet<>();
        for (String line : exposition.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int end = 0;
            while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
                end++;
            }
            names.add(line.substring(0, end));
        }
        return names;
    }

    /** Enough of PromQL to find the metric names an expression selects. */
    static final class PromQl {
        private static final Pattern STRINGS = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'");
        private static final Pattern MATCHERS = Pattern.compile("\\{[^}]*}");
        private static final Pattern RANGES = Pattern.compile("\\[[^]]*]");
        private static final Pattern GROUPINGS = Pattern.compile(
                "\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)");
        private static final Pattern IDENTIFIER = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
        private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "by", "without",
                "on", "ignoring", "group_left", "group_right", "inf", "nan");

        private PromQl() {
        }

        static Set<String> metricNames(String expr) {
            String bare = GROUPINGS.matcher(RANGES.matcher(MATCHERS.matcher(STRINGS.matcher(expr).replaceAll(""))
                    .replaceAll("")).replaceAll("")).replaceAll("");
            bare = bare.replaceAll("\\$__[a-z_]+", "");
            Set<String> names = new TreeSet<>();
            Matcher m = IDENTIFIER.matcher(bare);
            while (m.find()) {
                String word = m.group();
                int next = m.end();
                while (next < bare.length() && bare.charAt(next) == ' ') {
                    next++;
                }
                boolean function = next < bare.length() && bare.charAt(next) == '(';
                boolean number = m.start() > 0 && Character.isDigit(bare.charAt(m.start() - 1));
                if (!function && !number && !KEYWORDS.contains(word.toLowerCase(Locale.ROOT))) {
                    names.add(word);
                }
            }
            return names;
        }
    }

    @Test
    void thePromQlReaderFindsTheMetricNamesOnly() {
        assertThat(PromQl.metricNames("histogram_quantile(0.99, sum by (le, route) (rate(meter_enforcer_request_seconds_bucket"
                + "{route=~\"limits|usage\", status=\"200\"}[$__rate_interval])))"))
                .containsExactly("meter_enforcer_request_seconds_bucket");
        assertThat(PromQl.metricNames("sum(rate(a_total[5m])) / ignoring(x) sum(b_total offset 1h) > bool 0.5e3"))
                .containsExactly("a_total", "b_total");
    }

    private static HttpResponse<String> post(String url, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + apiKey)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String url, String key) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url)).GET();
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
