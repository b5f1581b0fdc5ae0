package io.usagemeter.notifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.json.Json;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The notifier on the embedded broker and PostgreSQL, delivering to real HTTP receivers on loopback.
 * Limit events are published as the enforcer writes them; {@link LimitWebhooksPipelineIT} runs the
 * enforcer itself.
 */
class NotifierIT {

    private static final String DATABASE = "notifier_it";
    private static final YearMonth MONTH = YearMonth.now(java.time.ZoneOffset.UTC);

    private static NotifierTestSupport stack;
    private static NotifierService notifier;
    private final List<String> endpoints = new ArrayList<>();
    private final List<Receiver> receivers = new ArrayList<>();

    @BeforeAll
    static void start() {
        stack = new NotifierTestSupport(DATABASE);
        notifier = new NotifierService(stack.config(DATABASE, "notifier-it-" + UUID.randomUUID(), "300ms,300ms,300ms", true),
                stack.postgres.dataSource(DATABASE), null, Clock.systemUTC()).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> stack.api(notifier.port(), "GET", "/health/ready", null)
                .statusCode() == 200);
    }

    @AfterAll
    static void stop() {
        if (notifier != null) {
            notifier.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    /** Every test's endpoints go, so later tests' events reach only their own. */
    @AfterEach
    void removeEndpoints() throws Exception {
        for (String id : endpoints) {
            stack.api(notifier.port(), "DELETE", "/v1/admin/webhooks/" + id, null);
        }
        receivers.forEach(Receiver::close);
    }

    private Receiver receiver(java.util.function.IntUnaryOperator behaviour) throws Exception {
        Receiver r = new Receiver(behaviour);
        receivers.add(r);
        return r;
    }

    private JsonNode register(Receiver receiver, String... types) throws Exception {
        JsonNode created = stack.register(notifier.port(), receiver.url(), types);
        endpoints.add(created.get("id").asText());
        return created;
    }

    private static LimitEvent crossing(UUID user, int threshold, long used) {
        return new LimitEvent(user, MONTH, threshold, used, 1000, Instant.now().truncatedTo(ChronoUnit.MILLIS));
    }

    @Test
    void warningThenExceededArriveOnceEachSignedAsStandardWebhooks() throws Exception {
        Receiver receiver = receiver(n -> 204);
        JsonNode endpoint = register(receiver, "limit.warning", "limit.exceeded", "limit.resolved");
        String secret = endpoint.get("secret").asText();
        UUID user = UUID.randomUUID();

        stack.publish(crossing(user, 80, 800), crossing(user, 100, 1000));

        await().atMost(Duration.ofSeconds(30)).until(() -> receiver.received.size() >= 2);
        Thread.sleep(1500); // room for a duplicate to show up, were there one
        assertThat(receiver.received).hasSize(2);
        Receiver.Received warning = receiver.received.get(0);
        Receiver.Received exceeded = receiver.received.get(1);
        assertThat(warning.signedWith(secret)).isTrue();
        assertThat(exceeded.signedWith(secret)).isTrue();
        assertThat(warning.webhookId()).startsWith("msg_").isNotEqualTo(exceeded.webhookId());
        assertThat(Math.abs(Long.parseLong(warning.timestamp()) - Instant.now().getEpochSecond())).isLessThan(60);

        JsonNode body = Json.tree(warning.body());
        assertThat(body.get("type").asText()).isEqualTo("limit.warning");
        assertThat(body.has("timestamp")).isTrue();
        JsonNode data = body.get("data");
        assertThat(data.get("user_id").asText()).isEqualTo(user.toString());
        assertThat(data.get("month").asText()).isEqualTo(MONTH.toString());
        assertThat(data.get("threshold_percent").asInt()).isEqualTo(80);
        assertThat(data.get("used").asLong()).isEqualTo(800);
        assertThat(data.get("effective_limit").asLong()).isEqualTo(1000);
        assertThat(data.get("state").asText()).isEqualTo("warning");
        JsonNode second = Json.tree(exceeded.body());
        assertThat(second.get("type").asText()).isEqualTo("limit.exceeded");
        assertThat(second.get("data").get("state").asText()).isEqualTo("exceeded");

        JsonNode log = stack.deliveries(notifier.port(), endpoint.get("id").asText());
        assertThat(log).hasSize(2).allSatisfy(d -> {
            assertThat(d.get("status").asText()).isEqualTo("succeeded");
            assertThat(d.get("attempts")).hasSize(1);
            assertThat(d.get("attempts").get(0).get("status_code").asInt()).isEqualTo(204);
        });
    }

    @Test
    void onlySubscribedTypesAreDelivered() throws Exception {
        Receiver all = receiver(n -> 200);
        Receiver exceededOnly = receiver(n -> 200);
        register(all, "limit.warning", "limit.exceeded");
        register(exceededOnly, "limit.exceeded");
        UUID user = UUID.randomUUID();

        stack.publish(crossing(user, 80, 800), crossing(user, 100, 1000));

        await().atMost(Duration.ofSeconds(30)).until(() -> all.received.size() >= 2 && !exceededOnly.received.isEmpty());
        Thread.sleep(1000);
        assertThat(exceededOnly.received).hasSize(1);
        assertThat(Json.tree(exceededOnly.received.get(0).body()).get("type").asText()).isEqualTo("limit.exceeded");
        assertThat(exceededOnly.received.get(0).webhookId()).as("one event, one id, whatever the endpoint")
                .isEqualTo(all.received.get(1).webhookId());
    }

    @Test
    void aReceiverFailingTwiceGetsTheSameIdThreeTimesAndTheUsersNextEventOnlyAfter() throws Exception {
        Receiver receiver = receiver(n -> n < 2 ? 500 : 200);
        JsonNode endpoint = register(receiver, "limit.warning", "limit.exceeded");
        UUID user = UUID.randomUUID();

        stack.publish(crossing(user, 80, 800), crossing(user, 100, 1000));

        await().atMost(Duration.ofSeconds(30)).until(() -> receiver.received.size() >= 4);
        List<String> ids = receiver.received.stream().map(Receiver.Received::webhookId).toList();
        assertThat(ids.subList(0, 3)).containsOnly(ids.get(0));
        assertThat(ids.get(3)).isNotEqualTo(ids.get(0));
        assertThat(Json.tree(receiver.received.get(3).body()).get("type").asText()).isEqualTo("limit.exceeded");

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode log = stack.deliveries(notifier.port(), endpoint.get("id").asText());
            JsonNode warning = log.get(1); // newest first
            assertThat(warning.get("webhook_id").asText()).isEqualTo(ids.get(0));
            assertThat(warning.get("status").asText()).isEqualTo("succeeded");
            assertThat(warning.get("attempts")).hasSize(3);
            assertThat(warning.get("attempts").findValuesAsText("status_code")).containsExactly("500", "500", "200");
            assertThat(warning.get("attempts").get(0).get("error").asText()).contains("HTTP 500");
            assertThat(warning.get("attempts").get(0).has("latency_ms")).isTrue();
        });
    }

    @Test
    void outOfRetriesTheDeliveryStaysFailedUntilRetriedByHand() throws Exception {
        Receiver receiver = receiver(n -> 503);
        JsonNode endpoint = register(receiver, "limit.warning");
        String id = endpoint.get("id").asText();
        stack.publish(crossing(UUID.randomUUID(), 80, 850));

        // 300ms,300ms,300ms: four attempts, then failed.
        await().atMost(Duration.ofSeconds(30)).until(() -> stack.deliveries(notifier.port(), id).get(0)
                .get("status").asText().equals("failed"));
        JsonNode failed = stack.deliveries(notifier.port(), id).get(0);
        assertThat(failed.get("attempts")).hasSize(4);
        assertThat(receiver.received).hasSize(4);

        receiver.behave(n -> 200);
        HttpResponse<String> retry = stack.api(notifier.port(), "POST",
                "/v1/admin/webhooks/" + id + "/deliveries/" + failed.get("id").asText() + "/retry", null);
        assertThat(retry.statusCode()).isEqualTo(202);

        await().atMost(Duration.ofSeconds(30)).until(() -> stack.deliveries(notifier.port(), id).get(0)
                .get("status").asText().equals("succeeded"));
        assertThat(stack.deliveries(notifier.port(), id).get(0).get("attempts")).hasSize(5);
        assertThat(receiver.received).extracting(Receiver.Received::webhookId).containsOnly(failed.get("webhook_id").asText());
    }

    @Test
    void anEndpointThatNeverAnswersDoesNotDelayAnother() throws Exception {
        Receiver silent = receiver(n -> -1);
        Receiver prompt = receiver(n -> 200);
        register(silent, "limit.warning");
        register(prompt, "limit.warning");
        UUID user = UUID.randomUUID();

        stack.publish(crossing(user, 80, 800));

        await().atMost(Duration.ofSeconds(30)).until(() -> !silent.received.isEmpty());
        // The silent receiver holds its request open (the notifier waits up to 10 s for it); the other
        // endpoint has its delivery long before that.
        await().atMost(Duration.ofSeconds(5)).until(() -> !prompt.received.isEmpty());
        assertThat(silent.received).hasSize(1);
        silent.release();
    }

    @Test
    void afterARotationBothSecretsSignUntilTheOldOneExpires() throws Exception {
        Receiver receiver = receiver(n -> 200);
        JsonNode endpoint = register(receiver, "limit.warning");
        String oldSecret = endpoint.get("secret").asText();
        HttpResponse<String> rotated = stack.api(notifier.port(), "POST",
                "/v1/admin/webhooks/" + endpoint.get("id").asText() + "/rotate-secret", null);
        assertThat(rotated.statusCode()).isEqualTo(200);
        JsonNode answer = Json.tree(rotated.body());
        String newSecret = answer.get("secret").asText();
        assertThat(newSecret).startsWith("whsec_").isNotEqualTo(oldSecret);
        assertThat(Instant.parse(answer.get("previous_secret_expires_at").asText()))
                .isBetween(Instant.now().plus(Duration.ofHours(23)), Instant.now().plus(Duration.ofHours(25)));

        stack.publish(crossing(UUID.randomUUID(), 80, 800));

        await().atMost(Duration.ofSeconds(30)).until(() -> !receiver.received.isEmpty());
        Receiver.Received got = receiver.received.get(0);
        assertThat(got.signature().split(" ")).hasSize(2);
        assertThat(got.signedWith(newSecret)).isTrue();
        assertThat(got.signedWith(oldSecret)).isTrue();
        assertThat(got.signature().split(" ")[0]).as("the new secret signs first")
                .isEqualTo(WebhookSignature.header(got.webhookId(), Long.parseLong(got.timestamp()), got.body(),
                        List.of(newSecret)));
    }

    @Test
    void theAdminApiNeedsAnAdminTokenAndNamesTheBadField() throws Exception {
        var http = java.net.http.HttpClient.newHttpClient();
        HttpResponse<String> anonymous = http.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + notifier.port() + "/v1/admin/webhooks")).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertThat(Json.tree(anonymous.body()).get("error").asText()).contains("admin token");

        HttpResponse<String> noTypes = stack.api(notifier.port(), "POST", "/v1/admin/webhooks",
                Map.of("url", "http://127.0.0.1:1/x", "event_types", List.of()));
        assertThat(noTypes.statusCode()).isEqualTo(400);
        assertThat(Json.tree(noTypes.body()).get("details").get(0).get("field").asText()).isEqualTo("event_types");

        HttpResponse<String> unknownType = stack.api(notifier.port(), "POST", "/v1/admin/webhooks",
                Map.of("url", "http://127.0.0.1:1/x", "event_types", List.of("limit.nearly")));
        assertThat(unknownType.statusCode()).isEqualTo(400);
        assertThat(unknownType.body()).contains("limit.nearly");

        HttpResponse<String> ftp = stack.api(notifier.port(), "POST", "/v1/admin/webhooks",
                Map.of("url", "ftp://example.com/x", "event_types", List.of("limit.warning")));
        assertThat(ftp.statusCode()).isEqualTo(400);
        assertThat(Json.tree(ftp.body()).get("details").get(0).get("field").asText()).isEqualTo("url");

        HttpResponse<String> unknownField = stack.api(notifier.port(), "POST", "/v1/admin/webhooks",
                "{\"url\": \"http://127.0.0.1:1/x\", \"event_types\": [\"limit.warning\"], \"secret\": \"mine\"}");
        assertThat(unknownField.statusCode()).isEqualTo(400);
        assertThat(Json.tree(unknownField.body()).get("details").get(0).get("field").asText()).isEqualTo("secret");

        HttpResponse<String> wrongType = stack.api(notifier.port(), "POST", "/v1/admin/webhooks",
                "{\"url\": \"http://127.0.0.1:1/x\", \"event_types\": \"limit.warning\"}");
        assertThat(wrongType.statusCode()).isEqualTo(400);
        assertThat(Json.tree(wrongType.body()).get("details").get(0).get("field").asText()).isEqualTo("event_types");

        HttpResponse<String> notJson = stack.api(notifier.port(), "POST", "/v1/admin/webhooks", "{\"url\": ");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(Json.tree(notJson.body()).get("error").asText()).isEqualTo("malformed JSON body");

        assertThat(stack.api(notifier.port(), "DELETE", "/v1/admin/webhooks/" + UUID.randomUUID(), null).statusCode())
                .isEqualTo(404);
        assertThat(stack.api(notifier.port(), "GET", "/v1/admin/webhooks/not-a-uuid/deliveries", null).statusCode())
                .isEqualTo(400);
    }

    @Test
    void aPrivateAddressIsRefusedWithoutTheDevFlag() throws Exception {
        try (NotifierService strict = new NotifierService(
                stack.config(DATABASE, "notifier-strict-" + UUID.randomUUID(), "1s", false),
                stack.postgres.dataSource(DATABASE), null, Clock.systemUTC()).start()) {
            for (String url : List.of("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://10.0.0.1/hook",
                    "http://169.254.169.254/latest")) {
                HttpResponse<String> refused = stack.api(strict.port(), "POST", "/v1/admin/webhooks",
                        Map.of("url", url, "event_types", List.of("limit.warning")));
                assertThat(refused.statusCode()).as(url).isEqualTo(400);
                JsonNode detail = Json.tree(refused.body()).get("details").get(0);
                assertThat(detail.get("field").asText()).isEqualTo("url");
                assertThat(detail.get("message").asText()).contains("METER_WEBHOOK_ALLOW_PRIVATE");
            }
            assertThat(Json.tree(stack.api(strict.port(), "GET", "/v1/admin/webhooks", null).body()).get("webhooks"))
                    .extracting(w -> w.get("url").asText()).noneMatch(u -> u.contains(":9/"));
        }
    }

    @Test
    void metricsCountDeliveriesAndAttempts() throws Exception {
        Receiver receiver = receiver(n -> 200);
        register(receiver, "limit.warning");
        stack.publish(crossing(UUID.randomUUID(), 80, 800));
        await().atMost(Duration.ofSeconds(30)).until(() -> !receiver.received.isEmpty());

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            String metrics = stack.api(notifier.port(), "GET", "/metrics", null).body();
            assertThat(metrics).contains("meter_notifier_deliveries_total{outcome=\"succeeded\"}")
                    .contains("meter_notifier_attempts_total{result=\"success\"}")
                    .contains("meter_notifier_delivery_latency_seconds_count")
                    .contains("meter_notifier_oldest_pending_age_seconds")
                    // the kit's: JVM meters, the HTTP bounds and a timer per admin route
                    .contains("jvm_memory_used_bytes")
                    .contains("meter_http_requests_in_flight{service=\"notifier\"}")
                    .contains("meter_notifier_request_seconds_count{route=\"admin_webhooks_create\"");
        });
    }

    @Test
    void readinessSaysWhatItChecked() throws Exception {
        JsonNode ready = Json.tree(stack.api(notifier.port(), "GET", "/health/ready", null).body());
        assertThat(ready.get("status").asText()).isEqualTo("UP");
        assertThat(ready.get("checks").get("limit_events").get("status").asText()).isEqualTo("UP");
        assertThat(ready.get("checks").get("database").get("status").asText()).isEqualTo("UP");
    }
}
