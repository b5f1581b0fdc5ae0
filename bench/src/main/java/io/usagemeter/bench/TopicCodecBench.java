package io.usagemeter.bench;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonFormat;
import io.cloudevents.kafka.CloudEventSerializer;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.serde.JsonSerde;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * How the aggregator reads {@code meter.usage-events}, per batch of {@value IngestCodecBench#BATCH}
 * records (divide by 500 for one): the topic's usage event serde given each record's headers, as
 * Kafka Streams calls it. {@code jsonSerdeWithHeaders} is the plain {@link JsonSerde} the topic used
 * before it read CloudEvents: the plain records' cost must stay its cost. The CloudEvents forms
 * (written by {@code cloudevents-kafka}'s serializer) are measured for what they cost on top.
 *
 * <p>Run: {@code java -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:$(cat bench/target/classpath.txt)"
 * org.openjdk.jmh.Main TopicCodecBench}; compare {@code cpuNanosPerEvent} within one run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 10, time = 1)
@Measurement(iterations = 8, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class TopicCodecBench {

    private static final int BATCH = IngestCodecBench.BATCH;

    private final Deserializer<UsageEvent> topicSerde = Topics.USAGE_EVENTS.valueSerde().deserializer();
    private final Deserializer<UsageEvent> jsonSerde = new JsonSerde<>(UsageEvent.class);
    private final String topic = Topics.USAGE_EVENTS.name();

    private byte[][] plain;
    private final Headers noHeaders = new RecordHeaders();
    private Headers traced;
    private byte[][] binaryValues;
    private Headers[] binaryHeaders;
    private byte[][] structuredValues;
    private Headers[] structuredHeaders;

    @Setup
    public void setUp() {
        SampleEvents sample = new SampleEvents("jmh", Instant.now().minusSeconds(600));
        plain = new byte[BATCH][];
        binaryValues = new byte[BATCH][];
        binaryHeaders = new Headers[BATCH];
        structuredValues = new byte[BATCH][];
        structuredHeaders = new Headers[BATCH];
        traced = new RecordHeaders().add("traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".getBytes(StandardCharsets.UTF_8));
        try (CloudEventSerializer binary = serializer(Map.of(CloudEventSerializer.ENCODING_CONFIG, "BINARY"));
             CloudEventSerializer structured = serializer(Map.of(CloudEventSerializer.ENCODING_CONFIG, "STRUCTURED",
                     CloudEventSerializer.EVENT_FORMAT_CONFIG, JsonFormat.CONTENT_TYPE))) {
            for (int i = 0; i < BATCH; i++) {
                UsageEvent e = sample.event(i);
                plain[i] = Topics.USAGE_EVENTS.valueSerde().serializer().serialize(topic, e);
                CloudEvent ce = cloudEventOf(e);
                binaryHeaders[i] = new RecordHeaders();
                binaryValues[i] = binary.serialize(topic, binaryHeaders[i], ce);
                structuredHeaders[i] = new RecordHeaders();
                structuredValues[i] = structured.serialize(topic, structuredHeaders[i], ce);
                if (!topicSerde.deserialize(topic, binaryHeaders[i], binaryValues[i]).equals(e)
                        || !topicSerde.deserialize(topic, structuredHeaders[i], structuredValues[i]).equals(e)) {
                    throw new IllegalStateException("the CloudEvent of sample " + i + " does not read back as its event");
                }
            }
        }
    }

    private static CloudEventSerializer serializer(Map<String, Object> config) {
        CloudEventSerializer serializer = new CloudEventSerializer();
        serializer.configure(config, false);
        return serializer;
    }

    private static CloudEvent cloudEventOf(UsageEvent e) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.put("provider", e.provider().wireName()).put("endpoint", e.endpoint()).put("method", e.method())
                .put("status_code", e.statusCode()).put("response_time_ms", e.responseTimeMs())
                .put("request_bytes", e.requestBytes()).put("response_bytes", e.responseBytes())
                .put("tokens", e.tokens()).put("units", e.units());
        return CloudEventBuilder.v1().withId(e.eventId()).withSource(URI.create("/bench")).withType(UsageCloudEvents.TYPE)
                .withSubject(e.userId().toString()).withTime(OffsetDateTime.ofInstant(e.occurredAt(), ZoneOffset.UTC))
                .withData("application/json", Json.write(data).getBytes(StandardCharsets.UTF_8)).build();
    }

    @Benchmark
    public void jsonSerdeWithHeaders(Blackhole bh, IngestCodecBench.CpuTime cpu) {
        cpu.batches++;
        for (byte[] bytes : plain) {
            bh.consume(jsonSerde.deserialize(topic, noHeaders, bytes));
        }
    }

    /** The two-argument call (no headers at all): the serde's delegation without the header check. */
    @Benchmark
    public void plainNoHeadersArgument(Blackhole bh, IngestCodecBench.CpuTime cpu) {
        cpu.batches++;
        for (byte[] bytes : plain) {
            bh.consume(topicSerde.deserialize(topic, bytes));
        }
    }

    @Benchmark
    public void plainWithoutHeaders(Blackhole bh, IngestCodecBench.CpuTime cpu) {
        cpu.batches++;
        for (byte[] bytes : plain) {
            bh.consume(topicSerde.deserialize(topic, noHeaders, bytes));
        }
    }

    @Benchmark
    public void plainWithATraceHeader(Blackhole bh, IngestCodecBench.CpuTime cpu) {
        cpu.batches++;
        for (byte[] bytes : plain) {
            bh.consume(topicSerde.deserialize(topic, traced, bytes));
        }
    }

    @Benchmark
    public void binaryCloudEvents(Blackhole bh, IngestCodecBench.CpuTime cpu) {
        cpu.batches++;
        for (int i = 0; i < BATCH; i++) {
            bh.consume(topicSerde.deserialize(topic, binaryHeaders[i], binaryValues[i]));
        }
    }

    @Benchmark
    public void structuredCloudEvents(Blackhole bh, IngestCodecBench.CpuTime cpu) {
        cpu.batches++;
        for (int i = 0; i < BATCH; i++) {
            bh.consume(topicSerde.deserialize(topic, structuredHeaders[i], structuredValues[i]));
        }
    }
}
