package io.usagemeter.schema.events;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.usagemeter.schema.json.Json;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class UsageEventValidationTest {

    static final Instant NOW = Instant.parse("2025-03-10T12:00:00Z");
    static final Duration LATENESS = UsageEventValidation.DEFAULT_LATENESS;
    static final String USER = "6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5f";

    static ObjectNode valid() {
        ObjectNode node = JsonNodeFactory.instance.objectNode();
        node.put("event_id", "evt-1");
        node.put("user_id", USER);
        node.put("occurred_at", "2025-03-10T11:59:00Z");
        node.put("provider", "anthropic");
        node.put("endpoint", "/v1/messages");
        node.put("method", "POST");
        node.put("status_code", 200);
        node.put("response_time_ms", 120);
        node.put("request_bytes", 300);
        node.put("response_bytes", 900);
        node.put("tokens", 512);
        node.put("units", 2);
        return node;
    }

    static List<Violation> violations(JsonNode node) {
        UsageEventValidation.Result result = UsageEventValidation.parse(node);
        return result instanceof UsageEventValidation.Invalid invalid ? invalid.violations() : List.of();
    }

    static List<String> fields(JsonNode node) {
        return violations(node).stream().map(Violation::field).toList();
    }

    static UsageEvent event(Instant occurredAt) {
        return new UsageEvent("evt", UUID.fromString(USER), occurredAt, Provider.OTHER, "/x", "GET", 200, 0, 0, 0, 0, 1);
    }

    @Test
    void aValidEventParsesToTheTypedRecord() {
        UsageEventValidation.Result result = UsageEventValidation.parse(valid());
        assertThat(result).isInstanceOf(UsageEventValidation.Valid.class);
        UsageEvent event = ((UsageEventValidation.Valid) result).event();
        assertThat(event).isEqualTo(new UsageEvent("evt-1", UUID.fromString(USER), Instant.parse("2025-03-10T11:59:00Z"),
                Provider.ANTHROPIC, "/v1/messages", "POST", 200, 120, 300, 900, 512, 2));
        assertThat(UsageEventValidation.validate(valid(), NOW, LATENESS).isValid()).isTrue();
    }

    @Test
    void tokensAndUnitsDefaultWhenAbsentOrNull() {
        ObjectNode node = valid();
        node.remove("tokens");
        node.putNull("units");
        UsageEvent event = ((UsageEventValidation.Valid) UsageEventValidation.parse(node)).event();
        assertThat(event.tokens()).isEqualTo(0);
        assertThat(event.units()).isEqualTo(1);
    }

    @Test
    void eventIdIsOneTo128Characters() {
        assertThat(fields(valid().put("event_id", "x".repeat(128)))).isEmpty();
        assertThat(fields(valid().put("event_id", "x".repeat(129)))).containsExactly("event_id");
        assertThat(fields(valid().put("event_id", "x"))).isEmpty();
        assertThat(fields(valid().put("event_id", ""))).containsExactly("event_id");
        // Characters, not UTF-16 units: 128 emoji are 128 characters.
        assertThat(fields(valid().put("event_id", "\uD83D\uDE00".repeat(128)))).isEmpty();
    }

    @Test
    void userIdMustBeAUuid() {
        assertThat(fields(valid().put("user_id", "not-a-uuid"))).containsExactly("user_id");
        assertThat(fields(valid().put("user_id", "1-1-1-1-1"))).containsExactly("user_id");
        assertThat(fields(valid().put("user_id", USER.toUpperCase()))).isEmpty();
        assertThat(((UsageEventValidation.Valid) UsageEventValidation.parse(valid().put("user_id", USER.toUpperCase())))
                .event().userId()).isEqualTo(UUID.fromString(USER));
        // Hex digits only: no signs, no non-ASCII digits, no other grouping.
        assertThat(fields(valid().put("user_id", "6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5g"))).containsExactly("user_id");
        assertThat(fields(valid().put("user_id", "6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5\uff11"))).containsExactly("user_id");
        assertThat(fields(valid().put("user_id", "+f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5f"))).containsExactly("user_id");
        assertThat(fields(valid().put("user_id", "6f1c3a2e8-d4b-4c1a-9e2f-0a1b2c3d4e5f"))).containsExactly("user_id");
        assertThat(fields(valid().put("user_id", USER + "0"))).containsExactly("user_id");
    }

    @Test
    void occurredAtMustBeRfc3339WithOffsetAndIsNormalisedToUtc() {
        assertThat(fields(valid().put("occurred_at", "2025-03-10T11:59:00"))).containsExactly("occurred_at");
        assertThat(fields(valid().put("occurred_at", "2025-03-10"))).containsExactly("occurred_at");
        assertThat(fields(valid().put("occurred_at", "yesterday"))).containsExactly("occurred_at");
        assertThat(fields(valid().put("occurred_at", "2025-02-30T10:00:00Z"))).containsExactly("occurred_at");
        UsageEvent event = ((UsageEventValidation.Valid) UsageEventValidation.parse(
                valid().put("occurred_at", "2025-03-10T13:59:00.5+02:00"))).event();
        assertThat(event.occurredAt()).isEqualTo(Instant.parse("2025-03-10T11:59:00.500Z"));
    }

    @Test
    void providerMustBeOneOfTheList() {
        for (String provider : List.of("github", "openai", "anthropic", "gemini", "other")) {
            assertThat(fields(valid().put("provider", provider))).as(provider).isEmpty();
        }
        assertThat(violations(valid().put("provider", "OpenAI")))
                .singleElement().satisfies(v -> assertThat(v.message()).contains("github, openai, anthropic, gemini, other"));
        assertThat(fields(valid().put("provider", "azure"))).containsExactly("provider");
    }

    @Test
    void endpointIsAtMost512Characters() {
        assertThat(fields(valid().put("endpoint", "/" + "e".repeat(511)))).isEmpty();
        assertThat(fields(valid().put("endpoint", "/" + "e".repeat(512)))).containsExactly("endpoint");
        assertThat(fields(valid().put("endpoint", ""))).containsExactly("endpoint");
    }

    @ParameterizedTest
    @ValueSource(strings = {"GET", "POST", "PATCH", "PROPFIND", "M-SEARCH"})
    void methodIsAnHttpToken(String method) {
        assertThat(fields(valid().put("method", method))).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "GET POST", "GET\n", "(GET)", "G\u00c9T", "GET\u0000", "GET;"})
    void methodRejectsNonTokens(String method) {
        assertThat(fields(valid().put("method", method))).containsExactly("method");
    }

    @Test
    void statusCodeIs100To599() {
        assertThat(fields(valid().put("status_code", 99))).containsExactly("status_code");
        assertThat(fields(valid().put("status_code", 100))).isEmpty();
        assertThat(fields(valid().put("status_code", 599))).isEmpty();
        assertThat(fields(valid().put("status_code", 600))).containsExactly("status_code");
    }

    @Test
    void sizesTimesAndTokensAreNotNegative() {
        for (String field : List.of("response_time_ms", "request_bytes", "response_bytes", "tokens")) {
            assertThat(fields(valid().put(field, 0))).as(field).isEmpty();
            assertThat(fields(valid().put(field, -1))).as(field).containsExactly(field);
        }
    }

    @Test
    void unitsAreAtLeastOne() {
        assertThat(fields(valid().put("units", 1))).isEmpty();
        assertThat(fields(valid().put("units", 0))).containsExactly("units");
        assertThat(fields(valid().put("units", -5))).containsExactly("units");
    }

    @Test
    void missingRequiredFieldsAreEachReported() {
        ObjectNode node = valid();
        UsageEventValidation.REQUIRED_FIELDS.forEach(node::remove);
        assertThat(violations(node))
                .extracting(Violation::field)
                .containsExactlyInAnyOrderElementsOf(UsageEventValidation.REQUIRED_FIELDS);
        assertThat(violations(node)).allSatisfy(v -> assertThat(v.message()).isEqualTo("is required"));
        assertThat(fields(valid().putNull("event_id"))).containsExactly("event_id");
    }

    @Test
    void wrongJsonTypesAreReported() {
        assertThat(violations(valid().put("status_code", "200")))
                .singleElement().satisfies(v -> {
                    assertThat(v.field()).isEqualTo("status_code");
                    assertThat(v.message()).isEqualTo("must be an integer, was a string");
                });
        assertThat(fields(valid().put("units", 1.5))).containsExactly("units");
        assertThat(fields(valid().put("event_id", 42))).containsExactly("event_id");
        assertThat(fields(valid().put("tokens", true))).containsExactly("tokens");
        assertThat(fields(valid().put("status_code", 1L << 40))).containsExactly("status_code");
        assertThat(fields(valid().set("endpoint", JsonNodeFactory.instance.arrayNode()))).containsExactly("endpoint");
    }

    @Test
    void unknownFieldsAreRejectedByName() {
        List<Violation> violations = violations(valid().put("colour", "red").put("userId", USER));
        assertThat(violations).extracting(Violation::field).containsExactlyInAnyOrder("colour", "userId");
        assertThat(violations).allSatisfy(v -> assertThat(v.message()).contains("unknown field '" + v.field() + "'"));
    }

    @Test
    void aDocumentThatIsNotAnObjectIsRejected() throws Exception {
        assertThat(fields(Json.tree("[1]"))).containsExactly(Violation.DOCUMENT);
        assertThat(fields(Json.tree("\"event\""))).containsExactly(Violation.DOCUMENT);
    }

    @Test
    void everyViolationIsCollectedNotOnlyTheFirst() {
        ObjectNode node = valid()
                .put("event_id", "")
                .put("user_id", "nope")
                .put("provider", "azure")
                .put("status_code", 42)
                .put("units", 0)
                .put("extra", 1);
        assertThat(fields(node)).containsExactlyInAnyOrder("event_id", "user_id", "provider", "status_code", "units", "extra");
    }

    @Test
    void futureBoundIsFiveMinutesInclusive() {
        Instant bound = NOW.plus(UsageEventValidation.MAX_FUTURE_SKEW);
        assertThat(UsageEventValidation.check(event(bound), NOW, LATENESS)).isEmpty();
        assertThat(UsageEventValidation.check(event(bound.plusMillis(1)), NOW, LATENESS))
                .singleElement().satisfies(v -> {
                    assertThat(v.field()).isEqualTo("occurred_at");
                    assertThat(v.message()).contains("5 minutes in the future");
                });
    }

    @Test
    void latenessBoundIs35DaysByDefaultInclusive() {
        assertThat(LATENESS).isEqualTo(Duration.ofDays(35));
        Instant bound = NOW.minus(LATENESS);
        assertThat(UsageEventValidation.check(event(bound), NOW, LATENESS)).isEmpty();
        assertThat(UsageEventValidation.check(event(bound.minusMillis(1)), NOW, LATENESS))
                .singleElement().satisfies(v -> {
                    assertThat(v.field()).isEqualTo("occurred_at");
                    assertThat(v.message()).contains("35 days");
                });
        // A configured bound replaces the default.
        assertThat(UsageEventValidation.check(event(NOW.minus(Duration.ofDays(2))), NOW, Duration.ofDays(1))).hasSize(1);
    }

    @Test
    void validateAppliesTimeRulesToParsedJson() {
        UsageEventValidation.Result result = UsageEventValidation.validate(
                valid().put("occurred_at", "2025-03-10T12:05:00.001Z"), NOW, LATENESS);
        assertThat(result).isInstanceOf(UsageEventValidation.Invalid.class);
        assertThat(((UsageEventValidation.Invalid) result).violations()).extracting(Violation::field).containsExactly("occurred_at");
    }

    @Test
    void aTooOldEventWithAnotherBadFieldNamesBoth() {
        UsageEventValidation.Result result = UsageEventValidation.validate(
                valid().put("occurred_at", "2020-01-01T00:00:00Z").put("units", 0), NOW, LATENESS);
        assertThat(result).isInstanceOf(UsageEventValidation.Invalid.class);
        assertThat(((UsageEventValidation.Invalid) result).violations()).extracting(Violation::field)
                .containsExactlyInAnyOrder("occurred_at", "units");
        assertThat(fields(valid().put("occurred_at", "2020-01-01T00:00:00Z"))).as("parse alone has no time rules").isEmpty();
    }

    @Test
    void typedEventsGetTheSameRangeRules() {
        UsageEvent bad = new UsageEvent("x".repeat(129), UUID.fromString(USER), NOW, Provider.GITHUB, "", "BAD METHOD",
                600, -1, -1, -1, -1, 0);
        assertThat(UsageEventValidation.check(bad, NOW, LATENESS)).extracting(Violation::field).containsExactlyInAnyOrder(
                "event_id", "endpoint", "method", "status_code", "response_time_ms", "request_bytes",
                "response_bytes", "tokens", "units");
    }
}
