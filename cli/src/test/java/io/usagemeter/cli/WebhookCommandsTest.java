package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.kit.auth.AdminJwtSettings;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.notifier.NotifierConfig;
import io.usagemeter.notifier.NotifierService;
import io.usagemeter.notifier.internal.RetrySchedule;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import io.usagemeter.schema.vault.TokenKeyset;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code meter admin webhooks ...} against a running notifier, as an operator uses them. */
class WebhookCommandsTest {

    private static final String DATABASE = "webhook_verbs";
    private static final String JWT_SECRET = "webhook-verbs-test-admin-jwt-secret-32-bytes-long";
    private static TestStack postgres;
    private static NotifierService notifier;
    private static HttpServer receiver;
    private static final List<String> received = new CopyOnWriteArrayList<>();
    private static Map<String, String> env;

    @BeforeAll
    static void start() throws Exception {
        postgres = TestStack.withSharedBroker();
        postgres.jdbcUrl(DATABASE);
        FlywayMigrations.flyway(postgres.dataSource(DATABASE)).migrate();
        String bootstrap = postgres.kafkaBootstrap();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        notifier = new NotifierService(new NotifierConfig(bootstrap, "webhook-verbs-" + UUID.randomUUID(), 0,
                postgres.jdbcUrl(DATABASE), postgres.user(), postgres.password(), TokenKeyset.generate(),
                RetrySchedule.parse("METER_WEBHOOK_RETRY_SCHEDULE", "200ms"), true,
                new AdminJwtSettings(JWT_SECRET, null, Set.of("ops@example.com"), null, null), null),
                postgres.dataSource(DATABASE), null, Clock.systemUTC()).start();
        receiver = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        receiver.createContext("/hook", exchange -> {
            received.add(exchange.getRequestHeaders().getFirst("webhook-id"));
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        receiver.start();
        env = Map.of("METER_NOTIFIER_URL", "http://127.0.0.1:" + notifier.port(),
                "METER_ADMIN_TOKEN", AdminTokens.hs256(JWT_SECRET.getBytes(StandardCharsets.UTF_8), "ops@example.com",
                        Duration.ofHours(1), Clock.systemUTC()));
    }

    @AfterAll
    static void stop() {
        if (receiver != null) {
            receiver.stop(0);
        }
        if (notifier != null) {
            notifier.close();
        }
        if (postgres != null) {
            if (postgres != null) {
                postgres.close();
            }
        }
    }

    private record Run(int code, String out, String err) {
        JsonNode json() throws Exception {
            return Json.tree(out);
        }
    }

    private static Run meter(Map<String, String> environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Meter.commandLine(environment);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void createListDeliverRetryRotateDelete() throws Exception {
        Run created = meter(env, "admin", "webhooks", "create", "--url",
                "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook", "--event-types", "limit.exceeded");
        assertThat(created.code()).as(created.err()).isZero();
        String id = created.json().get("id").asText();
        assertThat(created.json().get("secret").asText()).startsWith("whsec_");
        assertThat(created.json().get("event_types")).extracting(JsonNode::asText).containsExactly("limit.exceeded");

        Run list = meter(env, "admin", "webhooks", "list");
        assertThat(list.json().get("webhooks")).extracting(w -> w.get("id").asText()).contains(id);
        assertThat(list.out()).doesNotContain("whsec_");

        publish(new LimitEvent(UUID.randomUUID(), YearMonth.now(ZoneOffset.UTC), 100, 1000, 1000,
                Instant.now().truncatedTo(ChronoUnit.MILLIS)));
        await().atMost(Duration.ofSeconds(30)).until(() -> !received.isEmpty());
        await().atMost(Duration.ofSeconds(10)).until(() -> meter(env, "admin", "webhooks", "deliveries", id).json()
                .get("deliveries").get(0).get("status").asText().equals("succeeded"));
        JsonNode delivery = meter(env, "admin", "webhooks", "deliveries", id, "--limit", "1").json().get("deliveries").get(0);
        assertThat(delivery.get("webhook_id").asText()).isEqualTo(received.get(0));

        Run retry = meter(env, "admin", "webhooks", "retry", id, delivery.get("id").asText());
        assertThat(retry.code()).as(retry.err()).isZero();
        await().atMost(Duration.ofSeconds(30)).until(() -> received.size() >= 2);
        assertThat(received).containsOnly(delivery.get("webhook_id").asText());

        Run rotated = meter(env, "admin", "webhooks", "rotate-secret", id);
        assertThat(rotated.json().get("secret").asText()).startsWith("whsec_")
                .isNotEqualTo(created.json().get("secret").asText());

        assertThat(meter(env, "admin", "webhooks", "delete", id).code()).isZero();
        Run gone = meter(env, "admin", "webhooks", "delete", id);
        assertThat(gone.code()).isEqualTo(1);
        assertThat(gone.err()).contains("404");
    }

    @Test
    void withoutTheNotifierUrlTheVerbSaysWhatToSet() {
        Run run = meter(Map.of("METER_ADMIN_TOKEN", "x"), "admin", "webhooks", "list");
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("METER_NOTIFIER_URL is not set");
    }

    @Test
    void aRefusedUrlIsReportedWithItsField() {
        Run run = meter(env, "admin", "webhooks", "create", "--url", "ftp://example.com/x");
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("400").contains("\"field\":\"url\"");
    }

    private static void publish(LimitEvent event) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestStack.sharedKafkaBootstrap());
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), Topics.LIMIT_EVENTS.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(Topics.LIMIT_EVENTS.name(), event.userId().toString(), event))
                    .get(30, TimeUnit.SECONDS);
        }
    }
}
