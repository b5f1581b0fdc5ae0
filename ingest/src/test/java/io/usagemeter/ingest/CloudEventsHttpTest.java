package io.usagemeter.ingest;

import static io.usagemeter.ingest.TestStack.event;
import static io.usagemeter.ingest.TestStack.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.http.HttpMessageFactory;
import io.cloudevents.jackson.JsonFormat;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 21 at the HTTP edge: {@code POST /v1/events} takes CloudEvents in binary mode as written by
 * the CloudEvents Java SDK's own HTTP binding, with the same rules as every other form; a request
 * with {@code ce-*} headers that is not a valid CloudEvent is refused as such.
 */
class CloudEventsHttpTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private static TestStack stack;
    private static IngestService service;
    private static String apiKey;

    @BeforeAll
    static void start() {
        stack = TestStack.start();
        service = IngestService.create(stack.config()).start();
        apiKey = stack.keys.issue("cloudevents-http-test", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
    }

    @AfterAll
    static void stop() {
        if (service != null) {
            service.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    /** The usage event without the fields the envelope carries (id, subject, time). */
    private static Map<String, Object> data(UUID user) {
        Map<String, Object> data = event("unused", user, Instant.EPOCH);
        data.remove("event_id");
        data.remove("user_id");
        data.remove("occurred_at");
        return data;
    }

    private static CloudEventBuilder cloudEvent(String id, UUID user, Instant time, Object data) {
        return CloudEventBuilder.v1()
                .withId(id)
                .withSource(URI.create("/apps/proxy"))
                .withType(UsageCloudEvents.TYPE)
                .withSubject(user.toString())
                .withTime(OffsetDateTime.ofInstant(time, ZoneOffset.UTC))
                .withData("application/json", json(data).getBytes(StandardCharsets.UTF_8));
    }

    /** A request as the SDK's HTTP binding writes it: its headers and body, then ours. */
    private static HttpRequest.Builder request(Map<String, String> headers, byte[] body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + service.port() + "/v1/events"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + apiKey)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        headers.forEach(request::header);
        return request;
    }

    private static HttpResponse<String> postBinary(CloudEvent event) throws Exception {
        Map<String, String> headers = new LinkedHashMap<>();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        HttpMessageFactory.createWriter(headers::put, body::writeBytes).writeBinary(event);
        return HTTP.send(request(headers, body.toByteArray()).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> postHeaders(Map<String, String> headers, String body) throws Exception {
        return HTTP.send(request(headers, body.getBytes(StandardCharsets.UTF_8)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static List<ConsumerRecord<String, UsageEvent>> readEventsOf(UUID user, int expected) {
        return stack.read(Topics.USAGE_EVENTS, r -> r.key().equals(user.toString()),
                l -> l.size() >= expected, Duration.ofSeconds(15));
    }

    private static List<String> detailFields(HttpResponse<String> response) throws Exception {
        List<String> fields = new ArrayList<>();
        Json.tree(response.body()).get("details").forEach(d -> fields.add(d.get("field").asText()));
        return fields;
    }

    @Test
    void aBinaryCloudEventWrittenByTheSdkIsPublishedAsTheSameUsageEvent() throws Exception {
        UUID user = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(30).truncatedTo(ChronoUnit.MILLIS);

        HttpResponse<String> response = postBinary(cloudEvent("bin-" + user, user, t, data(user)).build());

        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        assertThat(Json.tree(response.body()).get("accepted").asInt()).isEqualTo(1);
        assertThat(readEventsOf(user, 1)).singleElement().satisfies(r -> {
            assertThat(r.key()).isEqualTo(user.toString());
            assertThat(r.timestamp()).isEqualTo(t.toEpochMilli());
            assertThat(r.headers().toArray()).as("ingest publishes the plain JSON event").isEmpty();
            assertThat(r.value()).isEqualTo(new UsageEvent("bin-" + user, user, t, Provider.OPENAI,
                    "/v1/chat/completions", "POST", 200, 420, 1200, 5400, 321, 2));
        });
    }

    @Test
    void someCeHeadersWithoutTheRequiredAttributesAreAHalfCloudEventNotAPlainEventMissingFields() throws Exception {
        UUID user = UUID.randomUUID();
        Map<String, String> headers = Map.of("Content-Type", "application/json",
                "ce-id", "half-" + user, "ce-source", "/apps/proxy");

        HttpResponse<String> response = postHeaders(headers, json(data(user)));

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode body = Json.tree(response.body());
        assertThat(body.get("error").asText())
                .startsWith("not a valid CloudEvent")
                .contains("binary mode")
                .endsWith("missing ce-specversion, ce-type");
        assertThat(detailFields(response)).containsExactly("ce-specversion", "ce-type");
        assertThat(response.body()).doesNotContain("event_id").doesNotContain("user_id");
    }

    @Test
    void anEmptyRequiredHeaderCountsAsMissing() throws Exception {
        UUID user = UUID.randomUUID();
        Map<String, String> headers = Map.of("Content-Type", "application/json", "CE-SpecVersion", "1.0",
                "Ce-Id", "", "ce-source", "/apps/proxy", "ce-type", UsageCloudEvents.TYPE);

        HttpResponse<String> response = postHeaders(headers, json(data(user)));

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(detailFields(response)).containsExactly("ce-id");
    }

    @Test
    void aBinaryCloudEventKeepsTheRulesAndBoundsOfEveryUsageEvent() throws Exception {
        UUID user = UUID.randomUUID();
        Map<String, Object> data = data(user);
        data.put("units", 0);
        data.put("provider", "aws");
        data.put("colour", "blue");

        HttpResponse<String> invalid = postBinary(cloudEvent("inv-" + user, user, Instant.now(), data).build());
        HttpResponse<String> tooOld = postBinary(cloudEvent("old-" + user, user,
                Instant.now().minus(60, ChronoUnit.DAYS), data(user)).build());
        Map<String, Object> contradicting = data(user);
        contradicting.put("event_id", "someone-else");
        HttpResponse<String> contradicts = postBinary(cloudEvent("con-" + user, user, Instant.now(), contradicting).build());

        assertThat(invalid.statusCode()).isEqualTo(400);
        assertThat(detailFields(invalid)).containsExactlyInAnyOrder("units", "provider", "colour");
        assertThat(tooOld.statusCode()).isEqualTo(400);
        assertThat(detailFields(tooOld)).containsExactly("occurred_at");
        assertThat(tooOld.body()).contains("older than the lateness bound");
        assertThat(contradicts.statusCode()).isEqualTo(400);
        assertThat(contradicts.body()).contains("differs from the CloudEvents id attribute");
    }

    @Test
    void aBinaryCloudEventWithoutSubjectNeedsUserIdInItsData() throws Exception {
        UUID user = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(5).truncatedTo(ChronoUnit.MILLIS);
        Map<String, Object> data = data(user);

        HttpResponse<String> noUser = postBinary(cloudEvent("ns-" + user, user, t, data).withSubject(null).build());
        data.put("user_id", user.toString());
        HttpResponse<String> userInData = postBinary(cloudEvent("ns-" + user, user, t, data).withSubject(null).build());

        assertThat(noUser.statusCode()).isEqualTo(400);
        assertThat(detailFields(noUser)).containsExactly("user_id");
        assertThat(userInData.statusCode()).as(userInData.body()).isEqualTo(202);
        assertThat(readEventsOf(user, 1)).singleElement().satisfies(r -> assertThat(r.value().userId()).isEqualTo(user));
    }

    @Test
    void binaryModeRefusesWhatTheSdkCannotReadAndWhatIsNotAUsageEvent() throws Exception {
        UUID user = UUID.randomUUID();
        Map<String, String> headers = new LinkedHashMap<>(Map.of("Content-Type", "application/json",
                "ce-specversion", "1.0", "ce-id", "x-" + user, "ce-source", "/apps/proxy", "ce-type", UsageCloudEvents.TYPE,
                "ce-subject", user.toString()));
        headers.put("ce-time", "yesterday");
        HttpResponse<String> badTime = postHeaders(headers, json(data(user)));
        headers.put("ce-time", Instant.now().toString());
        HttpResponse<String> array = postHeaders(headers, json(List.of(data(user))));
        HttpResponse<String> malformed = postHeaders(headers, "{\"provider\": ");
        headers.put("ce-specversion", "0.3");
        HttpResponse<String> oldSpec = postHeaders(headers, json(data(user)));

        assertThat(badTime.statusCode()).isEqualTo(400);
        assertThat(Json.tree(badTime.body()).get("error").asText())
                .isEqualTo("not a valid CloudEvent in binary mode: Invalid attribute/extension value for \"time\": yesterday");
        assertThat(array.statusCode()).isEqualTo(400);
        assertThat(array.body()).contains("must be the usage event as a JSON object");
        assertThat(malformed.statusCode()).isEqualTo(400);
        assertThat(detailFields(malformed)).containsExactly("data");
        assertThat(oldSpec.statusCode()).isEqualTo(400);
        assertThat(detailFields(oldSpec)).containsExactly("specversion");
    }

    @Test
    void theSdkStructuredModeAndABatchOfItsEnvelopesAreAcceptedToo() throws Exception {
        UUID user = UUID.randomUUID();
        Instant t = Instant.now().minusSeconds(20).truncatedTo(ChronoUnit.MILLIS);
        Map<String, String> headers = new LinkedHashMap<>();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        HttpMessageFactory.createWriter(headers::put, body::writeBytes)
                .writeStructured(cloudEvent("st-" + user, user, t, data(user)).build(), JsonFormat.CONTENT_TYPE);
        JsonFormat format = new JsonFormat();
        String batch = "[" + new String(format.serialize(cloudEvent("b1-" + user, user, t, data(user)).build()),
                StandardCharsets.UTF_8) + "," + new String(format.serialize(cloudEvent("b2-" + user, user, t, data(user))
                .build()), StandardCharsets.UTF_8) + "]";

        HttpResponse<String> structured = HTTP.send(request(headers, body.toByteArray()).build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> batched = postHeaders(Map.of("Content-Type", "application/cloudevents-batch+json"), batch);

        assertThat(headers).hasEntrySatisfying("Content-Type", v -> assertThat(v).startsWith(JsonFormat.CONTENT_TYPE));
        assertThat(structured.statusCode()).as(structured.body()).isEqualTo(202);
        assertThat(batched.statusCode()).as(batched.body()).isEqualTo(202);
        assertThat(readEventsOf(user, 3)).extracting(r -> r.value().eventId())
                .containsExactlyInAnyOrder("st-" + user, "b1-" + user, "b2-" + user);
    }
}
