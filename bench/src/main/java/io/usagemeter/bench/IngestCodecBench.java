package io.usagemeter.bench;

import io.usagemeter.ingest.internal.RequestFormat;
import io.usagemeter.ingest.internal.TopicRecord;
import io.usagemeter.ingest.internal.UsageEventRequests;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The CPU cost of ingest's hot code, per batch of {@value #BATCH} usage events (divide by 500 for
 * one event): the service's parse + validation of a JSON batch and of a CloudEvents batch, the
 * client's typed validation, and the topic serde both ways; and what the service publishes from a
 * body, the records, for a batch in the topic's own form (taken as it is) and for the same events
 * with a space after each colon (parsed, validated and serialised).
 *
 * <p>The machine is shared, so wall time per batch swings with load; the {@code cpuNanosPerEvent}
 * figure (thread CPU time of the benchmark thread, excluding GC and JIT threads) and
 * {@code -prof gc}'s allocation per batch hold steady and are the ones to compare. Warm-up is
 * long because on a loaded machine the JIT threads get little CPU and finish compiling late.
 *
 * <p>Run (see docs/benchmarks.md):
 * {@code java -cp "bench/target/bench-0.1.0-SNAPSHOT.jar:$(cat bench/target/classpath.txt)" org.openjdk.jmh.Main IngestCodecBench}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 12, time = 1)
@Measurement(iterations = 8, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class IngestCodecBench {

    static final int BATCH = 500;
    private static final Duration LATENESS = UsageEventValidation.DEFAULT_LATENESS;

    private final Serializer<UsageEvent> serializer = Topics.USAGE_EVENTS.valueSerde().serializer();
    private final Deserializer<UsageEvent> deserializer = Topics.USAGE_EVENTS.valueSerde().deserializer();
    private final String topic = Topics.USAGE_EVENTS.name();

    private Instant now;
    private List<UsageEvent> events;
    private byte[] jsonBatch;
    private byte[] spacedJsonBatch;
    private byte[] cloudEventsBatch;
    private byte[][] serialized;

    @Setup
    public void setUp() {
        now = Instant.now();
        SampleEvents sample = new SampleEvents("jmh", now.minusSeconds(600));
        events = new ArrayList<>(BATCH);
        List<String> cloudEvents = new ArrayList<>(BATCH);
        serialized = new byte[BATCH][];
        for (int i = 0; i < BATCH; i++) {
            UsageEvent e = sample.event(i);
            events.add(e);
            serialized[i] = serializer.serialize(topic, e);
            cloudEvents.add("{\"specversion\":\"1.0\",\"id\":\"" + e.eventId() + "\",\"source\":\"/bench\","
                    + "\"type\":\"io.usagemeter.usage.v1\",\"subject\":\"" + e.userId() + "\",\"data\":"
                    + Json.write(e) + "}");
        }
        jsonBatch = Json.write(events).getBytes(StandardCharsets.UTF_8);
        spacedJsonBatch = Json.write(events).replace("\":", "\": ").getBytes(StandardCharsets.UTF_8);
        cloudEventsBatch = ("[" + String.join(",", cloudEvents) + "]").getBytes(StandardCharsets.UTF_8);
        // Both bodies must be valid, or the benchmark would measure the rejection path.
        if (UsageEventRequests.validate(jsonBatch, RequestFormat.JSON, BATCH, now, LATENESS).size() != BATCH
                || UsageEventRequests.validate(cloudEventsBatch, RequestFormat.CLOUDEVENTS_BATCH, BATCH, now, LATENESS)
                .size() != BATCH) {
            throw new IllegalStateException("sample batch is not valid");
        }
    }

    @Benchmark
    public List<UsageEvent> parseAndValidateJsonBatch(CpuTime cpu) {
        cpu.batches++;
        return UsageEventRequests.validate(jsonBatch, RequestFormat.JSON, BATCH, now, LATENESS);
    }

    @Benchmark
    public List<UsageEvent> parseAndValidateCloudEventsBatch(CpuTime cpu) {
        cpu.batches++;
        return UsageEventRequests.validate(cloudEventsBatch, RequestFormat.CLOUDEVENTS_BATCH, BATCH, now, LATENESS);
    }

    /** The records {@code POST /v1/events} publishes for a batch as {@code UsageClient} sends it (the topic's own form). */
    @Benchmark
    public List<TopicRecord> recordsOfCanonicalJsonBatch(CpuTime cpu) {
        cpu.batches++;
        return UsageEventRequests.records(jsonBatch, RequestFormat.JSON, Map.of(), BATCH, now, LATENESS);
    }

    /** The same events laid out otherwise: the general path, parse, validation and serialisation. */
    @Benchmark
    public List<TopicRecord> recordsOfSpacedJsonBatch(CpuTime cpu) {
        cpu.batches++;
        return UsageEventRequests.records(spacedJsonBatch, RequestFormat.JSON, Map.of(), BATCH, now, LATENESS);
    }

    /** What {@code UsageClient.emit} checks before queueing. */
    @Benchmark
    public void checkTypedBatch(Blackhole bh, CpuTime cpu) {
        cpu.batches++;
        for (UsageEvent e : events) {
            bh.consume(UsageEventValidation.check(e, now, LATENESS));
        }
    }

    @Benchmark
    public void serializeBatch(Blackhole bh, CpuTime cpu) {
        cpu.batches++;
        for (UsageEvent e : events) {
            bh.consume(serializer.serialize(topic, e));
        }
    }

    @Benchmark
    public void deserializeBatch(Blackhole bh, CpuTime cpu) {
        cpu.batches++;
        for (byte[] bytes : serialized) {
            bh.consume(deserializer.deserialize(topic, bytes));
        }
    }

    /** Thread CPU time per event of one iteration, reported next to the wall-clock score. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class CpuTime {
        private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

        long batches;
        private long started;
        private double perEvent;

        public double cpuNanosPerEvent() {
            return perEvent;
        }

        @Setup(Level.Iteration)
        public void start() {
            batches = 0;
            started = THREADS.getCurrentThreadCpuTime();
        }

        @TearDown(Level.Iteration)
        public void stop() {
            perEvent = (double) (THREADS.getCurrentThreadCpuTime() - started) / Math.max(1, batches) / BATCH;
        }
    }
}
