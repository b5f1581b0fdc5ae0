package io.usagemeter.schema.serde;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonFormat;
import io.cloudevents.kafka.CloudEventSerializer;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.UsageEvent;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The usage event serde reads records written by the CloudEvents SDK's own Kafka serializer,
 * binary and structured, as the same usage events as the plain JSON ones; anything that claims to
 * be a CloudEvent but is not a valid one fails with a reason naming what is wrong.
 */
class UsageEventSerdeCloudEventsTest {

    private static final String TOPIC = "meter.usage-events";
    private static final UUID USER = UUID.fromString("6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5f");
    private static final Instant AT = Instant.parse("2025-01-31T23:59:59.123Z");
    private static final UsageEvent EVENT = new UsageEvent("evt-1", USER, AT, Provider.OPENAI, "/v1/chat/completions",
            "POST", 200, 842, 1200, 5400, 1350, 3);
    /** The usage event's fields that the envelope does not carry. */
    private static final String DATA = """
            {"provider":"openai","endpoint":"/v1/chat/completions","method":"POST","status_code":200,
             "response_time_ms":842,"request_bytes":1200,"response_bytes":5400,"tokens":1350,"units":3}""";

    private final Deserializer<UsageEvent> deserializer = EventSerdes.usageEvent().deserializer();

    enum Mode { BINARY, STRUCTURED }

    private static CloudEventBuilder cloudEvent(String data) {
        return CloudEventBuilder.v1()
                .withId("evt-1")
                .withSource(URI.create("/apps/proxy"))
                .withType(UsageCloudEvents.TYPE)
                .withSubject(USER.toString())
                .withTime(OffsetDateTime.ofInstant(AT, ZoneOffset.ofHours(2)))
                .withData("application/json", data.getBytes(StandardCharsets.UTF_8));
    }

    /** What {@code cloudevents-kafka}'s serializer writes: the headers it set and the value. */
    private record Written(Headers headers, byte[] value) {}

    private static Written write(Mode mode, CloudEvent event) {
        try (CloudEventSerializer serializer = new CloudEventSerializer()) {
            serializer.configure(mode == Mode.BINARY
                    ? Map.of(CloudEventSerializer.ENCODING_CONFIG, "BINARY")
                    : Map.of(CloudEventSerializer.ENCODING_CONFIG, "STRUCTURED",
                            CloudEventSerializer.EVENT_FORMAT_CONFIG, JsonFormat.CONTENT_TYPE), false);
            Headers headers = new RecordHeaders();
            byte[] value = serializer.serialize(TOPIC, headers, event);
            return new Written(headers, value);
        }
    }

    private UsageEvent read(Written written) {
        return deserializer.deserialize(TOPIC, written.headers(), written.value());
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aCloudEventIsReadAsTheSameUsageEventAsItsPlainJson(Mode mode) {
        Written written = write(mode, cloudEvent(DATA).build());
        if (mode == Mode.BINARY) {
            assertThat(written.headers().lastHeader("ce_id")).as("binary mode: attributes in headers").isNotNull();
        } else {
            assertThat(new String(written.headers().lastHeader("content-type").value(), StandardCharsets.UTF_8))
                    .startsWith("application/cloudevents+json");
        }

        UsageEvent read = read(written);

        assertThat(read).isEqualTo(EVENT);
        byte[] plain = EventSerdes.usageEvent().serializer().serialize(TOPIC, EVENT);
        assertThat(deserializer.deserialize(TOPIC, new RecordHeaders(), plain)).isEqualTo(read);
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void dataMayRepeatTheAttributesAndItsOccurredAtWinsOverTime(Mode mode) {
        String data = """
                {"event_id":"evt-1","user_id":"%s","occurred_at":"2025-01-15T10:00:00Z",%s""".formatted(USER,
                DATA.substring(1));

        UsageEvent read = read(write(mode, cloudEvent(data).build()));

        assertThat(read.eventId()).isEqualTo("evt-1");
        assertThat(read.userId()).isEqualTo(USER);
        assertThat(read.occurredAt()).isEqualTo(Instant.parse("2025-01-15T10:00:00Z"));
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void dataThatContradictsTheIdIsRefusedNamingTheField(Mode mode) {
        String data = "{\"event_id\":\"other\"," + DATA.substring(1);

        assertThatThrownBy(() -> read(write(mode, cloudEvent(data).build())))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("event_id: differs from the CloudEvents id attribute")
                .hasMessageContaining(mode.name().toLowerCase() + " mode");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void anInvalidUsageEventInDataIsRefusedWithEveryViolation(Mode mode) {
        String data = DATA.replace("\"units\":3", "\"units\":0").replace("\"provider\":\"openai\"", "\"provider\":\"aws\"");

        assertThatThrownBy(() -> read(write(mode, cloudEvent(data).build())))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("could not deserialize UsageEvent from topic " + TOPIC)
                .hasMessageContaining("units: must be within 1 and 1000000, was 0")
                .hasMessageContaining("provider: must be one of");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void aCloudEventWithoutSubjectNorUserIdIsRefusedNamingUserId(Mode mode) {
        CloudEvent noSubject = cloudEvent(DATA).withSubject(null).build();

        assertThatThrownBy(() -> read(write(mode, noSubject)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("user_id: is required");
    }

    @ParameterizedTest
    @EnumSource(Mode.class)
    void dataThatIsNotJsonIsRefused(Mode mode) {
        CloudEvent text = cloudEvent(DATA).withData("text/plain", "42 calls".getBytes(StandardCharsets.UTF_8)).build();

        assertThatThrownBy(() -> read(write(mode, text)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("datacontenttype: must be application/json when present, was 'text/plain'");
    }

    @Test
    void binaryModeWithoutRequiredHeadersIsRefusedNamingEachMissingOne() {
        Written written = write(Mode.BINARY, cloudEvent(DATA).build());
        written.headers().remove("ce_specversion");
        written.headers().remove("ce_type");

        assertThatThrownBy(() -> read(written))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("not a valid CloudEvent in binary mode: missing the headers ce_specversion, ce_type");
    }

    @Test
    void binaryModeWithAnEmptyIdIsRefusedNamingIt() {
        Written written = write(Mode.BINARY, cloudEvent(DATA).build());
        written.headers().remove("ce_id");
        written.headers().add("ce_id", new byte[0]);

        assertThatThrownBy(() -> read(written))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("missing the header ce_id");
    }

    @Test
    void binaryModeWithAnUnreadableTimeIsRefusedNamingTheAttribute() {
        Written written = write(Mode.BINARY, cloudEvent(DATA).build());
        written.headers().remove("ce_time");
        written.headers().add("ce_time", "yesterday".getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> read(written))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("not a valid CloudEvent in binary mode: Invalid attribute/extension value for \"time\": yesterday");
    }

    @Test
    void binaryModeWithAnUnknownSpecVersionIsRefused() {
        Written written = write(Mode.BINARY, cloudEvent(DATA).build());
        written.headers().remove("ce_specversion");
        written.headers().add("ce_specversion", "2.0".getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> read(written))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("not a valid CloudEvent in binary mode: Invalid specversion: 2.0");
    }

    @Test
    void binaryModeOfAnEarlierSpecVersionIsRefusedNamingTheOneAccepted() {
        Written written = write(Mode.BINARY, cloudEvent(DATA).build());
        written.headers().remove("ce_specversion");
        written.headers().add("ce_specversion", "0.3".getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> read(written))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("specversion: must be \"1.0\", was \"0.3\"");
    }

    @Test
    void binaryModeWithMalformedJsonDataIsRefused() {
        Written written = write(Mode.BINARY, cloudEvent(DATA).build());

        assertThatThrownBy(() -> deserializer.deserialize(TOPIC, written.headers(),
                "{\"provider\": ".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("data: is not valid JSON");
    }

    @Test
    void structuredModeWithoutAnIdIsRefused() {
        Written written = write(Mode.STRUCTURED, cloudEvent(DATA).build());
        byte[] withoutId = new String(written.value(), StandardCharsets.UTF_8).replace("\"id\":\"evt-1\",", "")
                .getBytes(StandardCharsets.UTF_8);

        assertThatThrownBy(() -> deserializer.deserialize(TOPIC, written.headers(), withoutId))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("not a valid CloudEvent in structured mode: Missing mandatory id attribute");
    }

    @Test
    void aCloudEventsBatchOnKafkaIsRefused() {
        Headers headers = new RecordHeaders().add("content-type",
                "application/cloudevents-batch+json".getBytes(StandardCharsets.UTF_8));

        assertThatThrownBy(() -> deserializer.deserialize(TOPIC, headers, "[]".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("not a valid CloudEvent in structured mode");
    }

    @Test
    void aPlainJsonRecordWithOtherHeadersIsReadAsPlainJson() {
        byte[] plain = EventSerdes.usageEvent().serializer().serialize(TOPIC, EVENT);
        Headers headers = new RecordHeaders()
                .add("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".getBytes(StandardCharsets.UTF_8))
                .add("content-type", "application/json".getBytes(StandardCharsets.UTF_8));

        assertThat(deserializer.deserialize(TOPIC, headers, plain)).isEqualTo(EVENT);
        assertThat(deserializer.deserialize(TOPIC, plain)).isEqualTo(EVENT);
    }

    @Test
    void withoutHeadersABinaryCloudEventIsNotAUsageEvent() {
        Written written = write(Mode.BINARY, cloudEvent(DATA).build());

        assertThatThrownBy(() -> deserializer.deserialize(TOPIC, written.value()))
                .isInstanceOf(SerializationException.class)
                .hasMessageContaining("event_id");
    }
}
