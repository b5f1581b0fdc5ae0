package io.usagemeter.aggregator;

import static io.usagemeter.aggregator.AggregatorDriver.event;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonFormat;
import io.cloudevents.kafka.CloudEventSerializer;
import io.usagemeter.aggregator.internal.StateKeys;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 21, the Kafka protocol binding: records that a producer writes to {@code meter.usage-events}
 * with the CloudEvents SDK's own Kafka serializer, binary or structured, are counted by the same
 * topology as the plain JSON events; one it cannot read goes to the dead-letter topic with the reason.
 */
class CloudEventsTopologyTest {

    private static final UUID ALICE = UUID.fromString("00000000-0000-4000-8000-00000000a11c");
    private static final UUID BOB = UUID.fromString("00000000-0000-4000-8000-000000000b0b");
    private static final YearMonth MAR_2028 = YearMonth.of(2028, 3);

    @TempDir
    Path stateDir;

    private TopologyTestDriver driver;
    private TestInputTopic<String, UsageEvent> plain;
    private TestInputTopic<String, CloudEvent> binary;
    private TestInputTopic<String, CloudEvent> structured;
    private TestOutputTopic<byte[], DeadLetter> deadLetters;

    @BeforeEach
    void start() {
        AggregatorConfig config = AggregatorConfig.defaults("driver:9092", stateDir);
        // Under exactly-once the driver drops the dead letters of deserialization failures (see AggregatorDriver).
        Properties properties = config.streamsProperties();
        properties.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        driver = new TopologyTestDriver(AggregatorTopology.build(config), properties);
        String topic = Topics.USAGE_EVENTS.name();
        plain = driver.createInputTopic(topic, new StringSerializer(), Topics.USAGE_EVENTS.valueSerde().serializer());
        binary = driver.createInputTopic(topic, new StringSerializer(), cloudEventSerializer("BINARY"));
        structured = driver.createInputTopic(topic, new StringSerializer(), cloudEventSerializer("STRUCTURED"));
        deadLetters = driver.createOutputTopic(Topics.DEAD_LETTER.name(), new ByteArrayDeserializer(),
                Topics.DEAD_LETTER.valueSerde().deserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    static CloudEventSerializer cloudEventSerializer(String encoding) {
        CloudEventSerializer serializer = new CloudEventSerializer();
        serializer.configure(encoding.equals("BINARY")
                ? Map.of(CloudEventSerializer.ENCODING_CONFIG, encoding)
                : Map.of(CloudEventSerializer.ENCODING_CONFIG, encoding,
                        CloudEventSerializer.EVENT_FORMAT_CONFIG, JsonFormat.CONTENT_TYPE), false);
        return serializer;
    }

    /** {@code e} as a CloudEvents producer would write it: id, subject and time as attributes, the rest in data. */
    static CloudEvent cloudEventOf(UsageEvent e) {
        ObjectNode data;
        try {
            data = (ObjectNode) Json.tree(Topics.USAGE_EVENTS.valueSerde().serializer().serialize("", e));
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
        data.remove(List.of("event_id", "user_id", "occurred_at"));
        return CloudEventBuilder.v1()
                .withId(e.eventId())
                .withSource(URI.create("/apps/proxy"))
                .withType(UsageCloudEvents.TYPE)
                .withSubject(e.userId().toString())
                .withTime(OffsetDateTime.ofInstant(e.occurredAt(), ZoneOffset.UTC))
                .withData("application/json", Json.write(data).getBytes(StandardCharsets.UTF_8))
                .build();
    }

    private static UsageEvent as(UUID user, UsageEvent e) {
        return new UsageEvent(e.eventId(), user, e.occurredAt(), e.provider(), e.endpoint(), e.method(), e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }

    private MonthlySummary stored(UUID user) {
        KeyValueStore<String, MonthlySummary> store = driver.getKeyValueStore(AggregatorTopology.MONTHLY_SUMMARIES_STORE);
        return store.get(StateKeys.userMonth(MAR_2028, user));
    }

    @Test
    void binaryAndStructuredCloudEventsAreCountedAsTheSamePlainEvents() {
        UsageEvent first = event("e-1", ALICE, "2028-03-05T10:00:00Z", Provider.OPENAI, 200);
        UsageEvent second = event("e-2", ALICE, "2028-03-06T11:30:00.250Z", Provider.ANTHROPIC, 503);

        binary.pipeInput(ALICE.toString(), cloudEventOf(first), first.occurredAt());
        structured.pipeInput(ALICE.toString(), cloudEventOf(second), second.occurredAt());
        plain.pipeInput(BOB.toString(), as(BOB, first), first.occurredAt());
        plain.pipeInput(BOB.toString(), as(BOB, second), second.occurredAt());

        assertThat(deadLetters.readRecordsToList()).isEmpty();
        MonthlySummary fromCloudEvents = stored(ALICE);
        MonthlySummary fromPlainJson = stored(BOB);
        assertThat(fromCloudEvents.calls()).isEqualTo(2);
        assertThat(fromCloudEvents.failedCalls()).isEqualTo(1);
        assertThat(fromCloudEvents.callsByProvider()).isEqualTo(Map.of(Provider.OPENAI, 1L, Provider.ANTHROPIC, 1L));
        assertThat(fromCloudEvents.lastEventAt()).isEqualTo(Instant.parse("2028-03-06T11:30:00.250Z"));
        assertThat(fromCloudEvents).usingRecursiveComparison().ignoringFields("userId").isEqualTo(fromPlainJson);
    }

    @Test
    void theSameEventIdCountsOnceWhateverFormItArrivesIn() {
        UsageEvent once = event("same", ALICE, "2028-03-05T10:00:00Z");

        plain.pipeInput(ALICE.toString(), once, once.occurredAt());
        binary.pipeInput(ALICE.toString(), cloudEventOf(once), once.occurredAt());
        structured.pipeInput(ALICE.toString(), cloudEventOf(once), once.occurredAt());

        assertThat(stored(ALICE).calls()).isEqualTo(1);
    }

    @Test
    void aBinaryCloudEventWithoutItsTypeIsDeadLetteredWithTheReasonAndTheNextOneIsCounted() {
        UsageEvent bad = event("bad", ALICE, "2028-03-05T10:00:00Z");
        UsageEvent good = event("good", ALICE, "2028-03-05T10:01:00Z");
        TestRecord<String, CloudEvent> withoutType = new TestRecord<>(ALICE.toString(), cloudEventOf(bad), bad.occurredAt());
        CloudEventSerializer serializer = cloudEventSerializer("BINARY");
        byte[] value = serializer.serialize(Topics.USAGE_EVENTS.name(), withoutType.headers(), withoutType.value());
        withoutType.headers().remove("ce_type");
        TestInputTopic<String, byte[]> raw = driver.createInputTopic(Topics.USAGE_EVENTS.name(), new StringSerializer(),
                new ByteArraySerializer());

        raw.pipeInput(new TestRecord<>(ALICE.toString(), value, withoutType.headers(), bad.occurredAt()));
        binary.pipeInput(ALICE.toString(), cloudEventOf(good), good.occurredAt());

        List<TestRecord<byte[], DeadLetter>> letters = deadLetters.readRecordsToList();
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0).value();
        assertThat(letter.stage()).isEqualTo("aggregator.deserialization");
        assertThat(letter.reason()).contains("not a valid CloudEvent in binary mode: missing the header ce_type");
        assertThat(header(letters.get(0), "__streams.errors.message")).isEqualTo(letter.reason());
        assertThat(letter.payload()).isEqualTo(value);
        assertThat(stored(ALICE).calls()).isEqualTo(1);
    }

    @Test
    void aStructuredCloudEventWhoseDataIsNotAUsageEventIsDeadLetteredWithEveryViolation() {
        CloudEvent notUsage = CloudEventBuilder.v1()
                .withId("nope")
                .withSource(URI.create("/apps/other"))
                .withType("com.example.order.created")
                .withSubject(ALICE.toString())
                .withTime(OffsetDateTime.parse("2028-03-05T10:00:00Z"))
                .withData("application/json", "{\"order\": 42}".getBytes(StandardCharsets.UTF_8))
                .build();

        structured.pipeInput(ALICE.toString(), notUsage, Instant.parse("2028-03-05T10:00:00Z"));

        List<TestRecord<byte[], DeadLetter>> letters = deadLetters.readRecordsToList();
        assertThat(letters).hasSize(1);
        assertThat(letters.get(0).value().reason())
                .contains("the CloudEvent 'nope' (structured mode) is not a valid usage event")
                .contains("order: unknown field 'order'")
                .contains("provider: is required");
        assertThat(stored(ALICE)).isNull();
    }

    private static String header(TestRecord<byte[], DeadLetter> record, String name) {
        Header h = record.headers().lastHeader(name);
        assertThat(h).as("header " + name).isNotNull();
        return new String(h.value(), StandardCharsets.UTF_8);
    }
}
