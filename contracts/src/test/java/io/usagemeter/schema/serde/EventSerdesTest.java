package io.usagemeter.schema.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;

class EventSerdesTest {

    static final String TOPIC = "test-topic";
    static final UUID USER = UUID.fromString("6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5f");
    static final UUID OTHER_USER = UUID.fromString("00000000-0000-4000-8000-000000000002");
    static final Instant AT = Instant.parse("2025-01-31T23:59:59.123Z");

    static UsageEvent usageEvent() {
        return new UsageEvent("evt-1", USER, AT, Provider.OPENAI, "/v1/chat/completions", "POST", 200, 842, 1200, 5400, 1350, 3);
    }

    static <T> T roundTrip(Serde<T> serde, T value) {
        byte[] bytes = serde.serializer().serialize(TOPIC, value);
        return serde.deserializer().deserialize(TOPIC, bytes);
    }

    static JsonNode wire(Serde<?> serde, Object value) throws Exception {
        @SuppressWarnings("unchecked")
        Serde<Object> s = (Serde<Object>) serde;
        return Json.tree(s.serializer().serialize(TOPIC, value));
    }

    @Test
    void usageEventRoundTripsWithContractWireNames() throws Exception {
        UsageEvent event = usageEvent();
        assertThat(roundTrip(EventSerdes.usageEvent(), event)).isEqualTo(event);

        JsonNode json = wire(EventSerdes.usageEvent(), event);
        assertThat(json.properties()).extracting(Map.Entry::getKey).containsExactlyInAnyOrder(
                "event_id", "user_id", "occurred_at", "provider", "endpoint", "method", "status_code",
                "response_time_ms", "request_bytes", "response_bytes", "tokens", "units");
        assertThat(json.get("provider").asText()).isEqualTo("openai");
        assertThat(json.get("occurred_at").asText()).isEqualTo("2025-01-31T23:59:59.123Z");
        assertThat(json.get("user_id").asText()).isEqualTo(USER.toString());
    }

    @Test
    void usageEventDefaultsTokensAndUnitsWhenAbsent() {
        String json = """
                {"event_id":"e","user_id":"%s","occurred_at":"2025-01-31T10:00:00Z","provider":"github",
                 "endpoint":"/repos","method":"GET","status_code":404,"response_time_ms":5,
                 "request_bytes":0,"response_bytes":10}""".formatted(USER);
        UsageEvent event = EventSerdes.usageEvent().deserializer().deserialize(TOPIC, json.getBytes(StandardCharsets.UTF_8));
        assertThat(event.tokens()).isZero();
        assertThat(event.units()).isEqualTo(1);
        assertThat(event.successful()).isFalse();
    }

    @Test
    void occurredAtWithOffsetIsNormalisedToUtc() {
        String json = """
                {"event_id":"e","user_id":"%s","occurred_at":"2025-02-01T01:30:00+02:00","provider":"github",
                 "endpoint":"/repos","method":"GET","status_code":200,"response_time_ms":5,
                 "request_bytes":0,"response_bytes":10}""".formatted(USER);
        UsageEvent event = EventSerdes.usageEvent().deserializer().deserialize(TOPIC, json.getBytes(StandardCharsets.UTF_8));
        assertThat(event.occurredAt()).isEqualTo(Instant.parse("2025-01-31T23:30:00Z"));
        assertThat(event.month()).isEqualTo(YearMonth.of(2025, 1));
    }

    @Test
    void unknownFieldIsRejectedNamingTheField() {
        String json = Json.write(usageEvent()).replace("}", ",\"colour\":\"red\"}");
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, json.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("UsageEvent")
                .hasMessageContaining(TOPIC)
                .hasMessageContaining("colour");
    }

    @Test
    void missingRequiredFieldIsRejectedNamingTheField() {
        String json = Json.write(usageEvent()).replace("\"endpoint\":\"/v1/chat/completions\",", "");
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, json.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("endpoint");
    }

    @Test
    void wrongJsonTypeIsRejectedNotCoerced() {
        String json = Json.write(usageEvent()).replace("\"status_code\":200", "\"status_code\":\"200\"");
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, json.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class);
        String fractional = Json.write(usageEvent()).replace("\"units\":3", "\"units\":1.5");
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, fractional.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class);
    }

    @Test
    void duplicateFieldIsRejected() {
        String json = Json.write(usageEvent()).replace("}", ",\"units\":1000}");
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, json.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("units");
    }

    @Test
    void nullIsATombstoneBothWays() {
        assertThat(EventSerdes.usageEvent().serializer().serialize(TOPIC, null)).isNull();
        assertThat(EventSerdes.usageEvent().deserializer().deserialize(TOPIC, null)).isNull();
        assertThat(EventSerdes.monthlySummary().serializer().serialize(TOPIC, null)).isNull();
        assertThat(EventSerdes.monthlySummary().deserializer().deserialize(TOPIC, null)).isNull();
    }

    @Test
    void emptyOrMalformedBytesFailWithSerializationException() {
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, new byte[0]))
                .isInstanceOf(SerializationException.class).hasMessageContaining("empty payload");
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, "{not json".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class).hasMessageContaining("UsageEvent");
        assertThatThrownBy(() -> EventSerdes.usageEvent().deserializer().deserialize(TOPIC, "[1,2]".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class);
    }

    @Test
    void referralEventRoundTrips() throws Exception {
        ReferralEvent referral = new ReferralEvent("ref-9", USER, OTHER_USER, ReferralStatus.COMPLETED, AT);
        assertThat(roundTrip(EventSerdes.referralEvent(), referral)).isEqualTo(referral);
        JsonNode json = wire(EventSerdes.referralEvent(), referral);
        assertThat(json.get("status").asText()).isEqualTo("completed");
        assertThat(json.has("referrer_id")).isTrue();
        assertThat(json.has("referred_id")).isTrue();
        assertThat(json.size()).isEqualTo(5);
    }

    @Test
    void everyAdminCommandRoundTripsWithItsTypeProperty() throws Exception {
        AdminCommand reset = new AdminCommand.ResetUsage("c-1", USER, YearMonth.of(2025, 1), AT, AT.plusSeconds(1), "admin@example.com");
        AdminCommand credits = new AdminCommand.AddBonusCredits("c-2", USER, 500, AT, "admin@example.com");
        AdminCommand plan = new AdminCommand.SetPlan("c-3", USER, "pro", AT, "admin@example.com");

        assertThat(roundTrip(EventSerdes.adminCommand(), reset)).isEqualTo(reset);
        assertThat(roundTrip(EventSerdes.adminCommand(), credits)).isEqualTo(credits);
        assertThat(roundTrip(EventSerdes.adminCommand(), plan)).isEqualTo(plan);

        JsonNode resetJson = wire(EventSerdes.adminCommand(), reset);
        assertThat(resetJson.get("type").asText()).isEqualTo("reset_usage");
        assertThat(resetJson.get("month").asText()).isEqualTo("2025-01");
        assertThat(resetJson.get("reset_at").asText()).isEqualTo("2025-01-31T23:59:59.123Z");
        assertThat(wire(EventSerdes.adminCommand(), credits).get("type").asText()).isEqualTo("add_bonus_credits");
        assertThat(wire(EventSerdes.adminCommand(), plan).get("type").asText()).isEqualTo("set_plan");
    }

    @Test
    void adminCommandTypeIsAClosedSet() {
        String byClassName = """
                {"type":"java.lang.ProcessBuilder","command_id":"c","user_id":"%s","plan":"pro",
                 "issued_at":"2025-01-01T00:00:00Z","issued_by":"x"}""".formatted(USER);
        assertThatThrownBy(() -> EventSerdes.adminCommand().deserializer().deserialize(TOPIC, byClassName.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("java.lang.ProcessBuilder");
        String untyped = """
                {"command_id":"c","user_id":"%s","plan":"pro","issued_at":"2025-01-01T00:00:00Z","issued_by":"x"}""".formatted(USER);
        assertThatThrownBy(() -> EventSerdes.adminCommand().deserializer().deserialize(TOPIC, untyped.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("type");
    }

    @Test
    void monthlySummaryAndKeyRoundTrip() throws Exception {
        MonthlySummaryKey key = new MonthlySummaryKey(USER, YearMonth.of(2025, 1));
        assertThat(roundTrip(EventSerdes.monthlySummaryKey(), key)).isEqualTo(key);
        assertThat(wire(EventSerdes.monthlySummaryKey(), key).toString())
                .isEqualTo("{\"user_id\":\"" + USER + "\",\"month\":\"2025-01\"}");

        MonthlySummary summary = MonthlySummary.empty(key)
                .plus(usageEvent())
                .plus(new UsageEvent("evt-2", USER, AT.minusSeconds(3600), Provider.GITHUB, "/repos", "GET", 500, 2000, 10, 20, 0, 1));
        assertThat(roundTrip(EventSerdes.monthlySummary(), summary)).isEqualTo(summary);

        JsonNode json = wire(EventSerdes.monthlySummary(), summary);
        assertThat(json.properties()).extracting(Map.Entry::getKey).containsExactly(
                "user_id", "month", "calls", "units", "successful_calls", "failed_calls", "tokens",
                "request_bytes", "response_bytes", "response_time_ms_sum", "response_time_ms_max",
                "first_event_at", "last_event_at", "calls_by_provider");
        assertThat(json.get("calls_by_provider").toString()).isEqualTo("{\"github\":1,\"openai\":1}");
    }

    @Test
    void equalSummariesSerialiseToEqualBytesWhateverTheMapOrder() {
        Map<Provider, Long> a = new LinkedHashMap<>();
        a.put(Provider.OTHER, 1L);
        a.put(Provider.GITHUB, 2L);
        Map<Provider, Long> b = new LinkedHashMap<>();
        b.put(Provider.GITHUB, 2L);
        b.put(Provider.OTHER, 1L);
        MonthlySummary first = new MonthlySummary(USER, YearMonth.of(2025, 1), 3, 3, 3, 0, 0, 0, 0, 0, 0, AT, AT, a);
        MonthlySummary second = new MonthlySummary(USER, YearMonth.of(2025, 1), 3, 3, 3, 0, 0, 0, 0, 0, 0, AT, AT, b);
        assertThat(EventSerdes.monthlySummary().serializer().serialize(TOPIC, first))
                .isEqualTo(EventSerdes.monthlySummary().serializer().serialize(TOPIC, second));
    }

    @Test
    void limitStateRoundTrips() throws Exception {
        LimitState state = new LimitState(USER, YearMonth.of(2025, 1), "free", 1000, 3, 0.06, 30,
                1090, 900, 190, LimitStatus.WARNING, true, 0.0,
                Instant.parse("2025-02-01T00:00:00Z"), AT);
        assertThat(roundTrip(EventSerdes.limitState(), state)).isEqualTo(state);
        JsonNode json = wire(EventSerdes.limitState(), state);
        assertThat(json.get("state").asText()).isEqualTo("warning");
        assertThat(json.get("multiplier").asDouble()).isEqualTo(0.06);
        assertThat(json.has("effective_limit")).isTrue();
        assertThat(json.has("resets_at")).isTrue();
        assertThat(json.has("as_of")).isTrue();
    }

    @Test
    void limitEventRoundTrips() throws Exception {
        LimitEvent event = new LimitEvent(USER, YearMonth.of(2025, 1), 100, 1000, 1000, AT);
        assertThat(roundTrip(EventSerdes.limitEvent(), event)).isEqualTo(event);
        assertThat(wire(EventSerdes.limitEvent(), event).has("kind")).as("a crossing keeps the old wire").isFalse();
    }

    @Test
    void resolvedLimitEventCarriesItsKind() throws Exception {
        LimitEvent event = LimitEvent.resolved(USER, YearMonth.of(2025, 1), 100, 1000, AT);
        assertThat(roundTrip(EventSerdes.limitEvent(), event)).isEqualTo(event);
        assertThat(wire(EventSerdes.limitEvent(), event).get("kind").asText()).isEqualTo("resolved");
    }

    @Test
    void limitEventWrittenBeforeKindExistedReadsAsACrossing() {
        String old = "{\"user_id\":\"" + USER + "\",\"month\":\"2025-01\",\"threshold\":80,\"used\":800,"
                + "\"effective_limit\":1000,\"occurred_at\":\"2025-01-10T00:00:00Z\"}";
        LimitEvent event = EventSerdes.limitEvent().deserializer()
                .deserialize("meter.limit-events", old.getBytes(StandardCharsets.UTF_8));
        assertThat(event.kind()).isEqualTo(LimitEvent.Kind.CROSSED);
        assertThat(event.threshold()).isEqualTo(80);
    }

    @Test
    void deadLetterRoundTripsArbitraryBytes() {
        byte[] payload = {(byte) 0xff, 0, '{', (byte) 0xc3};
        DeadLetter letter = DeadLetter.of("aggregator.deserialization", "meter.usage-events", 3, 42L,
                "user".getBytes(StandardCharsets.UTF_8), payload, "bad JSON",
                new SerializationException("boom"), AT);
        DeadLetter back = roundTrip(EventSerdes.deadLetter(), letter);
        assertThat(back).isEqualTo(letter);
        assertThat(back.payload()).isEqualTo(payload);
        assertThat(back.key()).isEqualTo("user".getBytes(StandardCharsets.UTF_8));
        assertThat(back.exceptionClass()).isEqualTo(SerializationException.class.getName());

        DeadLetter noSource = DeadLetter.of("ingest.validation", null, null, null, null, null, "rejected", null, AT);
        assertThat(roundTrip(EventSerdes.deadLetter(), noSource)).isEqualTo(noSource);
        assertThat(noSource.payload()).isNull();
    }
}
