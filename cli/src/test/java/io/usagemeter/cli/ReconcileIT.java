package io.usagemeter.cli;

import static io.usagemeter.schema.jooq.Tables.API_USAGE;
import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.reconcile.ReconcileSources;
import io.usagemeter.schema.reconcile.Reconciliation;
import io.usagemeter.schema.reconcile.Reconciliation.Source;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 20: {@code meter reconcile} on the real services, after faults under load (a short chaos run:
 * the aggregator with its sink, the enforcer and the broker each stopped and started again while events
 * are offered and 503s retried), then with differences planted by hand.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReconcileIT {

    private static final YearMonth MONTH = YearMonth.now(ZoneOffset.UTC);
    private static final String SECRET = "reconcile-it-admin-secret-of-at-least-32-bytes";
    private static final String AGGREGATOR_ID = "reconcile-it-aggregator";
    private static final String SINK_NAME = "reconcile-it-sink";
    private static final int USERS = 40;

    @TempDir
    static Path stateDir;

    private static TestStack kafka;
    private static TestStack postgres;
    private static DSLContext dsl;
    private static String bootstrap;
    private static IngestService ingest;
    private static volatile AggregatorService aggregator;
    private static volatile EnforcerService enforcer;
    private static String apiKey;
    private static String token;
    private static final HttpClient http = HttpClient.newHttpClient();
    private static final UUID[] users = new UUID[USERS];

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void start() {
        kafka = TestStack.start();
        bootstrap = kafka.kafkaBootstrap();
        postgres = TestStack.withSharedBroker();
        postgres.jdbcUrl("meter");
        FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
        dsl = DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        apiKey = new ApiKeyStore(postgres.dataSource("meter"), Clock.systemUTC()).issue("reconcile-it", ApiKeyScopes.ALL).secret();
        token = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "admin@example.com", Duration.ofMinutes(30),
                Clock.systemUTC());
        ingest = IngestService.create(IngestConfig.defaults(bootstrap, postgres.jdbcUrl("meter"),
                postgres.user(), postgres.password()).withPort(0)).start();
        aggregator = startAggregator();
        enforcer = startEnforcer();
        for (int i = 0; i < USERS; i++) {
            users[i] = UUID.randomUUID();
        }
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {enforcer, aggregator, ingest, kafka, postgres}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception ignored) {
                // closing what is left
            }
        }
    }

    private static AggregatorService startAggregator() {
        SinkConfig sink = new SinkConfig(bootstrap, SINK_NAME, SinkTopics.standard(), SinkConfig.DEFAULT_MAX_POLL_RECORDS,
                Duration.ofMillis(50), Duration.ofMillis(400), postgres.jdbcUrl("meter"), postgres.user(), postgres.password());
        AggregatorService started = new AggregatorService(AggregatorConfig.defaults(bootstrap, stateDir.resolve("aggregator"))
                .withApplicationId(AGGREGATOR_ID), Clock.systemUTC(), sink).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> started.state() == KafkaStreams.State.RUNNING);
        return started;
    }

    private static EnforcerService startEnforcer() {
        EnforcerConfig config = EnforcerConfig.defaults(bootstrap, stateDir.resolve("enforcer"), postgres.jdbcUrl("meter"),
                        postgres.user(), postgres.password())
                .withApplicationId("reconcile-it-enforcer")
                .withAdminAuth(SECRET, null, Set.of("admin@example.com"));
        EnforcerService started = new EnforcerService(config, dsl, Clock.systemUTC(), new Properties(), null,
                new ReconcileSources(AGGREGATOR_ID, "ignored: the service's own id", SINK_NAME)).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> started.streams().state() == KafkaStreams.State.RUNNING);
        return started;
    }

    @Test
    @Order(1)
    void afterFaultsUnderLoadEveryAcceptedEventIsCountedOnceEverywhere() throws Exception {
        TestStack.requireEmbedded("among its faults it stops the broker and restarts it on the same data");
        AtomicBoolean loading = new AtomicBoolean(true);
        AtomicLong offered = new AtomicLong();
        AtomicLong retried = new AtomicLong();
        Thread load = new Thread(() -> offer(loading, offered, retried), "reconcile-it-load");
        load.start();
        List<String> faults = new ArrayList<>();
        try {
            Thread.sleep(4_000);
            aggregator.close();
            faults.add("aggregator and sink stopped for 3 s");
            Thread.sleep(3_000);
            aggregator = startAggregator();
            Thread.sleep(3_000);
            // A reset in the middle of it: the month counts only what follows.
            HttpResponse<String> reset = admin("POST", "/v1/admin/users/" + users[0] + "/reset-usage", "{}");
            assertThat(reset.statusCode()).as(reset.body()).isEqualTo(202);
            enforcer.close();
            faults.add("enforcer stopped for 3 s");
            Thread.sleep(3_000);
            enforcer = startEnforcer();
            Thread.sleep(3_000);
            EmbeddedKafkaBroker broker = ((TestStack.Embedded) kafka).kafka();
            broker.stop();
            faults.add("broker stopped for 5 s");
            Thread.sleep(5_000);
            broker.restart();
            Thread.sleep(5_000);
        } finally {
            loading.set(false);
            load.join(120_000);
        }
        assertThat(load.isAlive()).as("the load client finished its retries").isFalse();

        Run run = meter("reconcile", "--month", MONTH.toString(), "--wait", "--timeout", "90");
        assertThat(run.code()).as(faults + "\n" + run.out() + run.err()).isZero();
        assertThat(run.out()).contains("verdict: CLEAN").contains("0 unexplained");
        Reconciliation report = report(meter("reconcile", "--month", MONTH.toString(), "--json"));
        assertThat(report.verdict()).isEqualTo(Reconciliation.Verdict.CLEAN);
        // Every event the client sent was acknowledged in the end (503s retried with the same ids).
        assertThat(report.totals().acceptedEvents()).isEqualTo(offered.get());
        assertThat(report.totals().apiUsageRows()).isEqualTo(offered.get());
        assertThat(report.totals().beforeReset()).isPositive();
        assertThat(report.totals().expectedCalls()).isEqualTo(offered.get() - report.totals().beforeReset());
        assertThat(report.totals().summaryCalls()).isEqualTo(report.totals().expectedCalls());
        assertThat(report.totals().enforcerUsed()).isEqualTo(report.totals().expectedUnits());
        assertThat(report.users()).filteredOn(u -> u.userId().equals(users[0])).singleElement()
                .satisfies(u -> assertThat(u.resetAt()).isNotNull());
        System.out.printf("reconcile chaos: %,d events offered, %,d requests retried, faults %s%n", offered.get(),
                retried.get(), faults);
    }

    @Test
    @Order(2)
    void aDeadLetteredEventIsExplainedAndReportedWithItsReason() throws Exception {
        UUID user = UUID.randomUUID();
        Instant now = Instant.now();
        try (var producer = new KafkaProducer<>(Map.of("bootstrap.servers", bootstrap), new ByteArraySerializer(),
                new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, now.toEpochMilli(),
                    user.toString().getBytes(StandardCharsets.UTF_8),
                    "{\"event_id\":\"not-an-event\",\"user_id\":\"nope\"}".getBytes(StandardCharsets.UTF_8))).get();
        }
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            Reconciliation report = report(meter("reconcile", "--month", MONTH.toString(), "--user", user.toString(),
                    "--json"));
            assertThat(report.users()).singleElement().satisfies(u -> assertThat(u.deadLettered()).isEqualTo(1));
            assertThat(report.deadLetterReasons()).hasSize(1);
            assertThat(report.verdict()).isEqualTo(Reconciliation.Verdict.CLEAN);
        });
        Run run = meter("reconcile", "--month", MONTH.toString(), "--user", user.toString());
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("dead-lettered (not counted)").contains("1 x ");
    }

    @Test
    @Order(3)
    void aDeletedApiUsageRowAndAnEditedSummaryRowAreUnexplainedAndExitOne() throws Exception {
        UUID deleted = users[1];
        UUID edited = users[2];
        assertThat(dsl.deleteFrom(API_USAGE).where(API_USAGE.USER_ID.eq(deleted))
                .and(API_USAGE.EVENT_ID.eq(dsl.select(DSL.min(API_USAGE.EVENT_ID)).from(API_USAGE)
                        .where(API_USAGE.USER_ID.eq(deleted)))).execute()).isEqualTo(1);
        // Five calls more, all successful (the table checks that calls are successful plus failed ones).
        assertThat(dsl.update(MONTHLY_USAGE_SUMMARY).set(MONTHLY_USAGE_SUMMARY.CALLS, MONTHLY_USAGE_SUMMARY.CALLS.plus(5))
                .set(MONTHLY_USAGE_SUMMARY.SUCCESSFUL_CALLS, MONTHLY_USAGE_SUMMARY.SUCCESSFUL_CALLS.plus(5))
                .where(MONTHLY_USAGE_SUMMARY.USER_ID.eq(edited)).and(MONTHLY_USAGE_SUMMARY.MONTH.eq(MONTH.atDay(1)))
                .execute()).isEqualTo(1);

        Run run = meter("reconcile", "--month", MONTH.toString());
        assertThat(run.code()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.out()).contains("verdict: UNEXPLAINED").contains("3 unexplained")
                .contains(deleted.toString()).contains(edited.toString())
                .contains("api_usage rows: expected").contains("summary_row calls: expected").contains("(+5), UNEXPLAINED");
        Reconciliation report = report(meter("reconcile", "--month", MONTH.toString(), "--json"));
        assertThat(report.users().stream().flatMap(u -> u.differences().stream()).toList())
                .extracting(d -> d.userId() + " " + d.source() + " " + d.measure() + " " + (d.actual() - d.expected())
                        + " " + d.explained())
                .containsExactlyInAnyOrder(deleted + " " + Source.API_USAGE + " rows -1 false",
                        deleted + " " + Source.API_USAGE + " units " + (-unitsOfDeletedRow(report, deleted)) + " false",
                        edited + " " + Source.SUMMARY_ROW + " calls 5 false");

        // --wait does not wait for what no lag explains.
        long started = System.nanoTime();
        Run waited = meter("reconcile", "--month", MONTH.toString(), "--user", deleted.toString(), "--wait", "--timeout", "5");
        assertThat(waited.code()).isEqualTo(1);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofSeconds(5));
    }

    @Test
    @Order(4)
    void theRouteNeedsAnAdminTokenAndNamesABadField() throws Exception {
        HttpResponse<String> anonymous = http.send(HttpRequest.newBuilder(enforcerUri("/v1/admin/reconcile")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).isEqualTo(401);
        HttpResponse<String> badUser = admin("GET", "/v1/admin/reconcile?user_id=42", null);
        assertThat(badUser.statusCode()).isEqualTo(400);
        assertThat(badUser.body()).contains("user_id");
        HttpResponse<String> badMonth = admin("GET", "/v1/admin/reconcile?month=2026-13", null);
        assertThat(badMonth.statusCode()).isEqualTo(400);
        assertThat(badMonth.body()).contains("month");
    }

    /** The units of the api_usage row the planted difference removed: expected less actual. */
    private static long unitsOfDeletedRow(Reconciliation report, UUID user) {
        return report.users().stream().filter(u -> u.userId().equals(user)).findFirst()
                .map(u -> u.expectedRowUnits() - u.apiUsageUnits()).orElseThrow();
    }

    /** Batches of 20 events over the users; a batch not answered 202 is sent again, the same ids, until it is. */
    private static void offer(AtomicBoolean loading, AtomicLong offered, AtomicLong retried) {
        long n = 0;
        while (loading.get()) {
            List<UsageEvent> batch = new ArrayList<>();
            for (int i = 0; i < 20; i++, n++) {
                batch.add(new UsageEvent("chaos-" + n, users[(int) (n % USERS)], Instant.now(), Provider.OPENAI,
                        "/v1/chat/completions", "POST", n % 13 == 0 ? 500 : 200, 40, 700, 1500, 10, 1 + n % 3));
            }
            String body = Json.write(batch);
            while (true) {
                try {
                    HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://localhost:"
                                    + ingest.port() + "/v1/events")).timeout(Duration.ofSeconds(10))
                            .header("Authorization", "Bearer " + apiKey).header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                    if (answer.statusCode() == 202) {
                        break;
                    }
                    assertThat(answer.statusCode()).as(answer.body()).isGreaterThanOrEqualTo(500);
                } catch (java.io.IOException unanswered) {
                    // retried like a 503
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                retried.incrementAndGet();
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            offered.addAndGet(batch.size());
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static Reconciliation report(Run run) throws Exception {
        assertThat(run.err()).doesNotContain("admin API answered");
        return Json.read(run.out(), Reconciliation.class);
    }

    private static HttpResponse<String> admin(String method, String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(enforcerUri(path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    private static URI enforcerUri(String path) {
        return URI.create("http://localhost:" + enforcer.port() + path);
    }

    private static Run meter(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        picocli.CommandLine cli = Meter.commandLine(Map.of("METER_ENFORCER_URL", "http://localhost:" + enforcer.port(),
                "METER_ADMIN_TOKEN", token));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }
}
