package io.usagemeter.ingest;

import static io.usagemeter.ingest.TestStack.event;
import static io.usagemeter.ingest.TestStack.json;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeySecrets;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topic;
import io.usagemeter.schema.topics.Topics;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;

/** {@code POST /v1/events} and {@code /v1/referrals} over real HTTP, against a real broker and PostgreSQL. */
class IngestHttpTest {

    private static final String JSON = "application/json";
    private static TestStack stack;
    private static IngestService service;
    private static String apiKey;

    /** Every log event of the run, to check that no API key ever reaches a log. */
    private static final ListAppender<ILoggingEvent> LOGS = new ListAppender<>();

    @BeforeAll
    static void start() {
        Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
        LOGS.start();
        root.addAppender(LOGS);
        ((Logger) LoggerFactory.getLogger("io.usagemeter")).setLevel(Level.DEBUG);
        stack = TestStack.start();
        service = IngestService.create(stack.config()).start();
        apiKey = stack.keys.issue("ingest-http-test", Set.of(ApiKeyScopes.EVENTS_WRITE, ApiKeyScopes.REFERRALS_WRITE)).secret();
    }

    @AfterAll
    static void stop() {
        ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).detachAppender(LOGS);
        if (service != null) {
            service.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void oneEventLandsOnTheTopicKeyedByUserWithItsEventTime() throws Exception {
        UUID user = UUID.randomUUID();
        Instant occurredAt = Instant.now().minus(3, ChronoUnit.HOURS).truncatedTo(ChronoUnit.MILLIS);
        Map<String, Object> sent = event("rt-" + user, user, occurredAt);

        HttpResponse<String> response = stack.post(service, "/v1/events", JSON, json(sent), apiKey);

        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(Json.tree(response.body()).get("accepted").asInt()).isEqualTo(1);
        List<ConsumerRecord<String, UsageEvent>> records = readEventsOf(user, 1);
        assertThat(records).hasSize(1);
        ConsumerRecord<String, UsageEvent> record = records.get(0);
        assertThat(record.key()).isEqualTo(user.toString());
        assertThat(record.timestamp()).isEqualTo(occurredAt.toEpochMilli());
        assertThat(record.value()).isEqualTo(new UsageEvent("rt-" + user, user, occurredAt, Provider.OPENAI,
                "/v1/chat/completions", "POST", 200, 420, 1200, 5400, 321, 2));
    }

    @Test
    void aBatchInTheTopicsOwnFormLandsByteForByteAndAnyOtherLayoutIsWrittenInThatForm() throws Exception {
        UUID user = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(90).truncatedTo(ChronoUnit.MILLIS);
        List<UsageEvent> sent = List.of(
                new UsageEvent("own-1-" + user, user, t, Provider.ANTHROPIC, "/v1/messages", "POST", 200, 310, 900, 4100, 777, 3),
                new UsageEvent("own-2-" + user, user, t.plusNanos(1_500), Provider.GITHUB, "/repos/a/b", "GET", 404, 12, 0, 80, 0, 1),
                new UsageEvent("own-3-" + user, user, t.plusMillis(1), Provider.OTHER, "/x", "PUT", 503, 5, 10, 20, 0, 1));
        String asSent = Json.write(sent);
        // The same events as another client may lay them out: spaces, another field order, an uppercase user id.
        String otherLayout = "[" + String.join(", ", sent.stream().map(e -> "{\"units\": " + e.units() + ", \"event_id\": \""
                + e.eventId().replace("own-", "other-") + "\", \"user_id\": \"" + user.toString().toUpperCase()
                + "\", \"occurred_at\": \"" + e.occurredAt() + "\", \"provider\": \"" + e.provider().wireName()
                + "\", \"endpoint\": \"" + e.endpoint() + "\", \"method\": \"" + e.method() + "\", \"status_code\": "
                + e.statusCode() + ", \"response_time_ms\": " + e.responseTimeMs() + ", \"request_bytes\": " + e.requestBytes()
                + ", \"response_bytes\": " + e.responseBytes() + ", \"tokens\": " + e.tokens() + "}").toList()) + "]";

        assertThat(stack.post(service, "/v1/events", JSON, asSent, apiKey).statusCode()).isEqualTo(202);
        assertThat(stack.post(service, "/v1/events", JSON, otherLayout, apiKey).statusCode()).isEqualTo(202);

        Topic<String, String> raw = new Topic<>(Topics.USAGE_EVENTS.name(), Serdes.String(), Serdes.String(),
                Topics.USAGE_EVENTS.partitions(), Topics.USAGE_EVENTS.cleanupPolicy(), Topics.USAGE_EVENTS.retention(),
                Topics.USAGE_EVENTS.minInsyncReplicas(), Topics.USAGE_EVENTS.otherConfigs());
        List<ConsumerRecord<String, String>> records = stack.read(raw, r -> r.key().equals(user.toString()),
                l -> l.size() >= 6, Duration.ofSeconds(15));
        List<String> expected = new ArrayList<>();
        sent.forEach(e -> expected.add(Json.write(e)));
        sent.forEach(e -> expected.add(Json.write(new UsageEvent(e.eventId().replace("own-", "other-"), user, e.occurredAt(),
                e.provider(), e.endpoint(), e.method(), e.statusCode(), e.responseTimeMs(), e.requestBytes(),
                e.responseBytes(), e.tokens(), e.units()))));
        // One user, one partition: the records keep the order they were sent in.
        assertThat(records).extracting(ConsumerRecord::value).containsExactlyElementsOf(expected);
        assertThat(asSent).isEqualTo("[" + String.join(",", expected.subList(0, 3)) + "]");
        assertThat(records).extracting(ConsumerRecord::timestamp).containsExactlyElementsOf(Stream.concat(sent.stream(),
                sent.stream()).map(e -> e.occurredAt().toEpochMilli()).toList());
    }

    @Test
    void anArrayIsAcceptedWholeAndDefaultsApply() throws Exception {
        UUID user = UUID.randomUUID();
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Map<String, Object> e = event("arr-" + i + "-" + user, user, Instant.now().minusSeconds(60));
            e.remove("tokens");
            e.remove("units");
            batch.add(e);
        }
        HttpResponse<String> response = stack.post(service, "/v1/events", JSON, json(batch), apiKey);

        assertThat(response.statusCode()).isEqualTo(202);
        assertThat(Json.tree(response.body()).get("accepted").asInt()).isEqualTo(5);
        List<ConsumerRecord<String, UsageEvent>> records = readEventsOf(user, 5);
        assertThat(records).extracting(r -> r.value().eventId())
                .containsExactlyInAnyOrder(batch.stream().map(e -> (String) e.get("event_id")).toArray(String[]::new));
        assertThat(records).allSatisfy(r -> {
            assertThat(r.value().tokens()).isZero();
            assertThat(r.value().units()).isEqualTo(1);
        });
    }

    static Stream<Arguments> invalidEvents() {
        Instant now = Instant.now();
        return Stream.of(
                invalid("event_id", e -> e.put("event_id", "")),
                invalid("event_id", e -> e.put("event_id", "x".repeat(129))),
                invalid("user_id", e -> e.put("user_id", "not-a-uuid")),
                invalid("occurred_at", e -> e.put("occurred_at", "yesterday")),
                invalid("occurred_at", e -> e.put("occurred_at", now.plus(10, ChronoUnit.MINUTES).toString())),
                invalid("occurred_at", e -> e.put("occurred_at", now.minus(36, ChronoUnit.DAYS).toString())),
                invalid("provider", e -> e.put("provider", "myspace")),
                invalid("provider", e -> e.remove("provider")),
                invalid("endpoint", e -> e.put("endpoint", "/".repeat(513))),
                invalid("method", e -> e.put("method", "")),
                invalid("method", e -> e.put("method", 42)),
                invalid("status_code", e -> e.put("status_code", 99)),
                invalid("status_code", e -> e.put("status_code", 600)),
                invalid("response_time_ms", e -> e.put("response_time_ms", -1)),
                invalid("request_bytes", e -> e.put("request_bytes", -1)),
                invalid("response_bytes", e -> e.put("response_bytes", -1)),
                invalid("tokens", e -> e.put("tokens", -1)),
                invalid("units", e -> e.put("units", 0)),
                invalid("colour", e -> e.put("colour", "blue")));
    }

    private static Arguments invalid(String field, Consumer<Map<String, Object>> breakIt) {
        return Arguments.of(field, breakIt);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidEvents")
    void eachRuleOfTheContractRejectsTheEventNamingTheField(String field, Consumer<Map<String, Object>> breakIt)
            throws Exception {
        Map<String, Object> e = event("bad-" + UUID.randomUUID(), UUID.randomUUID(), Instant.now().minusSeconds(5));
        breakIt.accept(e);

        HttpResponse<String> response = stack.post(service, "/v1/events", JSON, json(e), apiKey);

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode body = Json.tree(response.body());
        assertThat(body.get("error").asText()).isNotBlank();
        assertThat(body.get("details")).anySatisfy(d -> {
            assertThat(d.get("index").asInt()).isZero();
            assertThat(d.get("field").asText()).isEqualTo(field);
            assertThat(d.get("message").asText()).isNotBlank();
        });
    }

    @Test
    void oneBadEventRejectsTheBatchAndEveryBadEventIsListed() throws Exception {
        UUID user = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(30);
        Map<String, Object> bad0 = event("b0-" + user, user, t);
        bad0.put("status_code", 700);
        Map<String, Object> good = event("good-" + user, user, t);
        Map<String, Object> bad2 = event("b2-" + user, user, t);
        bad2.put("provider", "nope");
        bad2.put("units", 0);

        HttpResponse<String> response = stack.post(service, "/v1/events", JSON, json(List.of(bad0, good, bad2)), apiKey);

        assertThat(response.statusCode()).isEqualTo(400);
        List<String> details = new ArrayList<>();
        Json.tree(response.body()).get("details").forEach(d -> details.add(d.get("index").asInt() + ":" + d.get("field").asText()));
        assertThat(details).containsExactlyInAnyOrder("0:status_code", "2:provider", "2:units");
        // Nothing of the batch was published: a later event of the same user (same partition) arrives alone.
        assertThat(stack.post(service, "/v1/events", JSON, json(event("after-" + user, user, t)), apiKey).statusCode())
                .isEqualTo(202);
        assertThat(readEventsOf(user, 1)).extracting(r -> r.value().eventId()).containsExactly("after-" + user);
    }

    @Test
    void malformedJsonIs400() throws Exception {
        HttpResponse<String> response = stack.post(service, "/v1/events", JSON, "{\"event_id\": ", apiKey);
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(Json.tree(response.body()).get("error").asText()).startsWith("malformed JSON");
        assertThat(stack.post(service, "/v1/events", JSON, "42", apiKey).statusCode()).isEqualTo(400);
        assertThat(stack.post(service, "/v1/events", JSON, "[]", apiKey).statusCode()).isEqualTo(400);
    }

    @Test
    void aBodyOverTheLimitIs413() throws Exception {
        String huge = "[" + "\"" + "x".repeat(IngestConfig.DEFAULT_MAX_BODY_BYTES) + "\"]";
        HttpResponse<String> response = stack.post(service, "/v1/events", JSON, huge, apiKey);
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(Json.tree(response.body()).get("error").asText()).contains("larger than");
    }

    @Test
    void moreEventsThanTheBatchLimitIs413() throws Exception {
        UUID user = UUID.randomUUID();
        List<Map<String, Object>> batch = new ArrayList<>();
        for (int i = 0; i <= IngestConfig.DEFAULT_MAX_BATCH_EVENTS; i++) {
            batch.add(event("many-" + i, user, Instant.now().minusSeconds(5)));
        }
        HttpResponse<String> response = stack.post(service, "/v1/events", JSON, json(batch), apiKey);
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(Json.tree(response.body()).get("error").asText()).contains("too many events");
    }

    @Test
    void anotherContentTypeIs415() throws Exception {
        String body = json(event("ct-" + UUID.randomUUID(), UUID.randomUUID(), Instant.now()));
        assertThat(stack.post(service, "/v1/events", "text/plain", body, apiKey).statusCode()).isEqualTo(415);
        assertThat(stack.post(service, "/v1/events", null, body, apiKey).statusCode()).isEqualTo(415);
        assertThat(stack.post(service, "/v1/referrals", "application/cloudevents+json", body, apiKey).statusCode())
                .isEqualTo(415);
        HttpResponse<String> response = stack.post(service, "/v1/events", "application/xml", body, apiKey);
        assertThat(Json.tree(response.body()).get("error").asText()).contains("application/json");
    }

    @Test
    void missingUnknownAndRevokedKeysAre401AndAMissingScopeIs403() throws Exception {
        String body = json(event("auth-" + UUID.randomUUID(), UUID.randomUUID(), Instant.now()));

        HttpResponse<String> missing = stack.post(service, "/v1/events", JSON, body, null);
        assertThat(missing.statusCode()).isEqualTo(401);
        assertThat(missing.headers().firstValue("WWW-Authenticate")).contains("Bearer");
        assertThat(Json.tree(missing.body()).has("details")).isTrue();

        assertThat(stack.post(service, "/v1/events", JSON, body, "um_not-a-key-anyone-issued").statusCode()).isEqualTo(401);
        assertThat(stack.post(service, "/v1/events", JSON, body, ApiKeySecrets.generate()).statusCode())
                .as("well formed but never issued").isEqualTo(401);

        var revoked = stack.keys.issue("revoked-before-use", Set.of(ApiKeyScopes.EVENTS_WRITE));
        stack.keys.revoke(revoked.key().prefix());
        HttpResponse<String> revokedResponse = stack.post(service, "/v1/events", JSON, body, revoked.secret());
        assertThat(revokedResponse.statusCode()).isEqualTo(401);
        assertThat(revokedResponse.body()).doesNotContain(revoked.secret());

        var referralsOnly = stack.keys.issue("referrals-only", Set.of(ApiKeyScopes.REFERRALS_WRITE));
        HttpResponse<String> forbidden = stack.post(service, "/v1/events", JSON, body, referralsOnly.secret());
        assertThat(forbidden.statusCode()).isEqualTo(403);
        assertThat(Json.tree(forbidden.body()).get("error").asText()).contains(ApiKeyScopes.EVENTS_WRITE);
        assertThat(forbidden.body()).doesNotContain(referralsOnly.secret());
    }

    @Test
    void noApiKeyEverAppearsInTheLogs() {
        String body = json(event("log-" + UUID.randomUUID(), UUID.randomUUID(), Instant.now()));
        String unknown = "um_this-key-was-never-issued-0123456789abcdef";
        var scoped = stack.keys.issue("log-check", Set.of(ApiKeyScopes.REFERRALS_WRITE));
        stack.post(service, "/v1/events", JSON, body, unknown);
        stack.post(service, "/v1/events", JSON, body, scoped.secret());
        stack.post(service, "/v1/events", JSON, body, apiKey);
        stack.post(service, "/v1/events", JSON, "{", apiKey);

        List<String> logged;
        synchronized (LOGS.list) {
            logged = LOGS.list.stream().map(e -> e.getFormattedMessage()
                    + (e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getMessage())).toList();
        }
        assertThat(logged).isNotEmpty().noneMatch(line -> line.contains(unknown) || line.contains(scoped.secret())
                || line.contains(apiKey));
    }

    @Test
    void aStructuredCloudEventCarriesTheEventInDataWithIdAndSubject() throws Exception {
        UUID user = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(90).truncatedTo(ChronoUnit.MILLIS);
        Map<String, Object> data = event("ignored", user, t);
        data.remove("event_id");
        data.remove("user_id");
        data.remove("occurred_at");

        HttpResponse<String> response = stack.post(service, "/v1/events", "application/cloudevents+json; charset=utf-8",
                json(cloudEvent("ce-" + user, user, t, data)), apiKey);

        assertThat(response.statusCode()).isEqualTo(202);
        List<ConsumerRecord<String, UsageEvent>> records = readEventsOf(user, 1);
        assertThat(records).singleElement().satisfies(r -> {
            assertThat(r.key()).isEqualTo(user.toString());
            assertThat(r.timestamp()).isEqualTo(t.toEpochMilli());
            assertThat(r.value().eventId()).isEqualTo("ce-" + user);
            assertThat(r.value().userId()).isEqualTo(user);
            assertThat(r.value().occurredAt()).isEqualTo(t);
        });
    }

    @Test
    void aCloudEventsBatchIsAllOrNothingToo() throws Exception {
        UUID user = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(10);
        List<Map<String, Object>> batch = List.of(
                cloudEvent("ceb-1-" + user, user, t, event("ceb-1-" + user, user, t)),
                cloudEvent("ceb-2-" + user, user, t, event("ceb-2-" + user, user, t)));

        HttpResponse<String> accepted = stack.post(service, "/v1/events", "application/cloudevents-batch+json",
                json(batch), apiKey);
        assertThat(accepted.statusCode()).isEqualTo(202);
        assertThat(readEventsOf(user, 2)).extracting(r -> r.value().eventId())
                .containsExactlyInAnyOrder("ceb-1-" + user, "ceb-2-" + user);

        Map<String, Object> contradicting = cloudEvent("ceb-3-" + user, user, t, event("other-id", user, t));
        Map<String, Object> noSpec = cloudEvent("ceb-4-" + user, user, t, event("ceb-4-" + user, user, t));
        noSpec.remove("specversion");
        HttpResponse<String> rejected = stack.post(service, "/v1/events", "application/cloudevents-batch+json",
                json(List.of(batch.get(0), contradicting, noSpec)), apiKey);
        assertThat(rejected.statusCode()).isEqualTo(400);
        List<String> details = new ArrayList<>();
        Json.tree(rejected.body()).get("details").forEach(d -> details.add(d.get("index").asInt() + ":" + d.get("field").asText()));
        assertThat(details).containsExactlyInAnyOrder("1:event_id", "2:specversion");
    }

    @Test
    void referralsArePublishedKeyedByTheReferredUserAndSelfReferralIsRefused() throws Exception {
        UUID referrer = UUID.randomUUID();
        UUID referred = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(1).truncatedTo(ChronoUnit.MILLIS);
        Map<String, Object> referral = new LinkedHashMap<>();
        referral.put("referral_id", "ref-" + referred);
        referral.put("referrer_id", referrer.toString());
        referral.put("referred_id", referred.toString());
        referral.put("status", "completed");
        referral.put("occurred_at", t.toString());

        assertThat(stack.post(service, "/v1/referrals", JSON, json(referral), apiKey).statusCode()).isEqualTo(202);
        List<ConsumerRecord<String, ReferralEvent>> records = stack.read(Topics.REFERRALS,
                r -> r.key().equals(referred.toString()), l -> l.size() >= 1, Duration.ofSeconds(15));
        assertThat(records).singleElement().satisfies(r -> {
            assertThat(r.timestamp()).isEqualTo(t.toEpochMilli());
            assertThat(r.value()).isEqualTo(new ReferralEvent("ref-" + referred, referrer, referred, ReferralStatus.COMPLETED, t));
        });

        referral.put("referred_id", referrer.toString());
        referral.put("status", "done");
        HttpResponse<String> self = stack.post(service, "/v1/referrals", JSON, json(referral), apiKey);
        assertThat(self.statusCode()).isEqualTo(400);
        List<String> fields = new ArrayList<>();
        Json.tree(self.body()).get("details").forEach(d -> fields.add(d.get("field").asText()));
        assertThat(fields).containsExactlyInAnyOrder("referred_id", "status");

        var eventsOnly = stack.keys.issue("events-only", Set.of(ApiKeyScopes.EVENTS_WRITE));
        assertThat(stack.post(service, "/v1/referrals", JSON, json(referral), eventsOnly.secret()).statusCode()).isEqualTo(403);
    }

    @Test
    void healthAndPrometheusMetricsAreServed() {
        assertThat(stack.get(service, "/health/live").statusCode()).isEqualTo(200);
        HttpResponse<String> ready = stack.get(service, "/health/ready");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).contains("\"kafka\":{\"status\":\"UP\"").contains("\"key_store\":{\"status\":\"UP\"");

        UUID user = UUID.randomUUID();
        stack.post(service, "/v1/events", JSON, json(event("m-" + user, user, Instant.now())), apiKey);
        stack.post(service, "/v1/events", "text/plain", "x", apiKey);
        HttpResponse<String> metrics = stack.get(service, "/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.body())
                .contains("meter_ingest_events_accepted_total{route=\"events\"}")
                .contains("meter_ingest_requests_rejected_total{reason=\"unsupported_media_type\",route=\"events\"}")
                .contains("meter_ingest_batch_size_count")
                .contains("meter_ingest_request_seconds_bucket")
                .contains("kafka_producer_")
                .contains("jvm_memory_used_bytes");
        assertThat(stack.get(service, "/v1/nothing-here").statusCode()).isEqualTo(404);
    }

    private static Map<String, Object> cloudEvent(String id, UUID subject, Instant time, Map<String, Object> data) {
        Map<String, Object> ce = new LinkedHashMap<>();
        ce.put("specversion", "1.0");
        ce.put("id", id);
        ce.put("source", "/apps/test");
        ce.put("type", "io.usagemeter.usage.v1");
        ce.put("subject", subject.toString());
        ce.put("time", time.toString());
        ce.put("datacontenttype", "application/json");
        ce.put("data", data);
        return ce;
    }

    private List<ConsumerRecord<String, UsageEvent>> readEventsOf(UUID user, int expected) {
        return stack.read(Topics.USAGE_EVENTS, r -> r.key().equals(user.toString()),
                l -> l.size() >= expected, Duration.ofSeconds(15));
    }
}
