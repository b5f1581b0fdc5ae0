package io.usagemeter.bench;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;

/**
 * Aggregator throughput with exactly-once, against the raw producer ceiling measured in the same
 * JVM on the same broker.
 *
 * <p>One run: start the embedded broker and create the topics; pre-load {@code events} usage events
 * (about 300 bytes of JSON, 10,000 users, times spread over the previous and the current month with
 * 3 % arriving up to 3 days late, 2 % resent as they were, and a few usage resets); then, for each
 * repeat, measure the raw {@link KafkaProducer} on a scratch topic (the ceiling) and the real
 * aggregator ({@link AggregatorService}, production configuration from {@code METER_AGGREGATOR_*})
 * from {@code start()} until its committed offsets reach the end of both input topics, i.e. until
 * every event's effect is committed. Each repeat is a fresh application id and state directory over
 * the same input. Finally the summaries on the topic are checked against the expected totals.
 *
 * <p>Options (system properties): {@code -Dquick} (300,000 events), {@code -Devents=N},
 * {@code -Dusers=N}, {@code -Drepeats=N} (default 2), {@code -Dverify=false}, and
 * {@code -DcommitIntervals=PT0.1S,PT1S} to alternate commit intervals between repeats (compared
 * in the same JVM and broker, interleaved, because the machine's load drifts).
 */
public final class AggregatorBench {

    private static final String CEILING_TOPIC = "bench.raw-ceiling";
    private static final int RESETS = 20;
    private static final double DUPLICATE_SHARE = 0.02;
    private static final double LATE_SHARE = 0.03;
    private static final String[] ENDPOINTS = {"/v1/chat/completions", "/v1/messages", "/v1/embeddings",
        "/repos/{owner}/{repo}/pulls", "/v1beta/models/gemini-pro:generateContent"};

    private AggregatorBench() {
    }

    public static void main(String[] args) throws Exception {
        int events = Integer.getInteger("events", System.getProperty("quick") != null ? 300_000 : 2_000_000);
        int users = Integer.getInteger("users", 10_000);
        int repeats = Integer.getInteger("repeats", 2);
        boolean verify = !"false".equals(System.getProperty("verify"));

        Workload workload = Workload.generate(events, users, new Random(42));
        System.out.printf("workload: %,d event records (%,d resent duplicates), %,d resets, %,d users, "
                        + "%d bytes per event on average%n", workload.records.size(), workload.duplicates,
                workload.resets.size(), users, workload.payloadBytes / workload.payloads.length);

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start();
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
            TopicSettings settings = TopicSettings.singleBroker();
            TopicBootstrapper.bootstrap(admin, settings);
            admin.createTopics(List.of(new NewTopic(CEILING_TOPIC, settings.partitions(), (short) 1))).all().get();

            long loadStart = System.nanoTime();
            preload(broker.bootstrapServers(), workload);
            System.out.printf("pre-loaded in %.1f s; aggregator: %s%n", (System.nanoTime() - loadStart) / 1e9,
                    describe(config(broker.bootstrapServers(), "probe", Path.of("."))));

            String[] commitIntervals = System.getProperty("commitIntervals", "").split(",");
            for (int run = 1; run <= repeats; run++) {
                String commitInterval = commitIntervals[(run - 1) % commitIntervals.length];
                double ceiling = rawProducerRate(broker.bootstrapServers(), workload);
                Measurement m = measureAggregator(broker.bootstrapServers(), admin, "bench-aggregator-" + run,
                        commitInterval);
                System.out.printf("run %d%s: raw producer %,.0f rec/s | aggregator %,d events in %.2f s = %,.0f events/s "
                                + "(%,.0f events/s after RUNNING at +%.1f s) | ratio %.3f | ~%,d summary records out | "
                                + "CPU per event: %.1f µs stream thread, %.1f µs whole JVM%n",
                        run, commitInterval.isEmpty() ? "" : " (commit " + commitInterval + ")", ceiling,
                        workload.records.size(), m.seconds(), workload.records.size() / m.seconds(),
                        workload.records.size() / (m.seconds() - m.runningAfterSeconds()), m.runningAfterSeconds(),
                        workload.records.size() / m.seconds() / ceiling, m.summaryRecords(),
                        m.streamCpuSeconds() * 1e6 / workload.records.size(),
                        m.processCpuSeconds() * 1e6 / workload.records.size());
            }
            if (verify) {
                verify(broker.bootstrapServers(), workload);
            }
        }
    }

    private static AggregatorConfig config(String bootstrap, String applicationId, Path stateDir) {
        return config(bootstrap, applicationId, stateDir, "");
    }

    private static AggregatorConfig config(String bootstrap, String applicationId, Path stateDir,
            String commitInterval) {
        Map<String, String> env = new HashMap<>(System.getenv());
        if (!commitInterval.isEmpty()) {
            env.put("METER_AGGREGATOR_COMMIT_INTERVAL", commitInterval);
        }
        env.put("METER_KAFKA_BOOTSTRAP", bootstrap);
        env.put("METER_AGGREGATOR_APPLICATION_ID", applicationId);
        env.put("METER_AGGREGATOR_STATE_DIR", stateDir.toString());
        env.put("METER_AGGREGATOR_HTTP_PORT", "0");
        return AggregatorConfig.fromEnv(env);
    }

    private static String describe(AggregatorConfig c) {
        return "exactly_once_v2, commit " + c.commitInterval() + ", " + c.streamThreads() + " stream thread(s)";
    }

    /**
     * @param processCpuSeconds CPU time of the whole JVM (broker included) during the run
     * @param streamCpuSeconds CPU time of the stream threads: on a shared machine these say more
     *     about the code than the wall-clock rate, which follows what the other processes take
     */
    private record Measurement(double seconds, double runningAfterSeconds, long summaryRecords,
            double processCpuSeconds, double streamCpuSeconds) {
    }

    private static double processCpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime() / 1e9;
    }

    /** CPU seconds of the live stream threads, remembered by id so that the total survives their end. */
    private static double streamThreadCpuSeconds(Map<Long, Long> lastSeen) {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().contains("-StreamThread-")
                    && !info.getThreadName().endsWith("-producer")) {
                long cpu = threads.getThreadCpuTime(info.getThreadId());
                if (cpu > 0) {
                    lastSeen.put(info.getThreadId(), cpu);
                }
            }
        }
        return lastSeen.values().stream().mapToLong(Long::longValue).sum() / 1e9;
    }

    private static Measurement measureAggregator(String bootstrap, Admin admin, String applicationId,
            String commitInterval) throws Exception {
        Map<TopicPartition, Long> inputEnds = endOffsets(admin, Topics.USAGE_EVENTS.name(), Topics.ADMIN_COMMANDS.name());
        long summariesBefore = total(endOffsets(admin, Topics.USAGE_SUMMARIES.name()));
        Path stateDir = Files.createTempDirectory("aggregator-bench-");
        Map<Long, Long> streamThreads = new HashMap<>();
        double cpuBefore = processCpuSeconds();
        long started = System.nanoTime();
        long running = 0;
        try (AggregatorService service = new AggregatorService(config(bootstrap, applicationId, stateDir, commitInterval),
                Clock.systemUTC())) {
            service.start();
            while (true) {
                if (running == 0 && service.state() == KafkaStreams.State.RUNNING) {
                    running = System.nanoTime();
                }
                if (service.state() == KafkaStreams.State.ERROR || service.state() == KafkaStreams.State.NOT_RUNNING) {
                    throw new IllegalStateException("the aggregator stopped: " + service.state());
                }
                streamThreadCpuSeconds(streamThreads);
                if (caughtUp(admin, applicationId, inputEnds)) {
                    break;
                }
                Thread.sleep(50);
            }
            long finished = System.nanoTime();
            double cpu = processCpuSeconds() - cpuBefore;
            double streamCpu = streamThreadCpuSeconds(streamThreads);
            long summariesAfter = total(endOffsets(admin, Topics.USAGE_SUMMARIES.name()));
            return new Measurement((finished - started) / 1e9, (running - started) / 1e9,
                    summariesAfter - summariesBefore, cpu, streamCpu);
        }
    }

    private static boolean caughtUp(Admin admin, String group, Map<TopicPartition, Long> ends) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> committed =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        for (Map.Entry<TopicPartition, Long> end : ends.entrySet()) {
            OffsetAndMetadata c = committed.get(end.getKey());
            if (end.getValue() > 0 && (c == null || c.offset() < end.getValue())) {
                return false;
            }
        }
        return true;
    }

    private static Map<TopicPartition, Long> endOffsets(Admin admin, String... topics) throws Exception {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (String topic : topics) {
            int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
            for (int p = 0; p < partitions; p++) {
                request.put(new TopicPartition(topic, p), OffsetSpec.latest());
            }
        }
        return admin.listOffsets(request).all().get().entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
    }

    private static long total(Map<TopicPartition, Long> offsets) {
        return offsets.values().stream().mapToLong(Long::longValue).sum();
    }

    /** The ceiling: the same payloads through a bare producer with production settings, to a scratch topic. */
    private static double rawProducerRate(String bootstrap, Workload workload) {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(RawProducerBench.producerProps(bootstrap),
                new StringSerializer(), new ByteArraySerializer())) {
            int warmUp = Math.min(200_000, workload.records.size());
            RawProducerBench.send(producer, CEILING_TOPIC, workload.keys, workload.payloads, warmUp);
            int records = workload.records.size();
            long nanos = RawProducerBench.send(producer, CEILING_TOPIC, workload.keys, workload.payloads, records);
            return records / (nanos / 1e9);
        }
    }

    private static void preload(String bootstrap, Workload workload) {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(RawProducerBench.producerProps(bootstrap),
                new StringSerializer(), new ByteArraySerializer())) {
            var events = Topics.USAGE_EVENTS.valueSerde().serializer();
            for (UsageEvent e : workload.records) {
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, e.occurredAt().toEpochMilli(),
                        e.userId().toString(), events.serialize(Topics.USAGE_EVENTS.name(), e)));
            }
            var commands = Topics.ADMIN_COMMANDS.valueSerde().serializer();
            for (AdminCommand.ResetUsage r : workload.resets) {
                producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), null, r.issuedAt().toEpochMilli(),
                        r.userId().toString(), commands.serialize(Topics.ADMIN_COMMANDS.name(), r)));
            }
            producer.flush();
        }
    }

    /** The latest summary per key on the topic must hold exactly the expected calls. */
    private static void verify(String bootstrap, Workload workload) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase());
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5_000);
        Map<Bytes, byte[]> latest = new HashMap<>();
        long read = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.USAGE_SUMMARIES.name()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    latest.put(Bytes.wrap(r.key()), r.value());
                    read++;
                }
            }
        }
        var values = Topics.USAGE_SUMMARIES.valueSerde().deserializer();
        Map<MonthlySummaryKey, Long> actual = new HashMap<>();
        latest.values().forEach(v -> {
            MonthlySummary s = values.deserialize(Topics.USAGE_SUMMARIES.name(), v);
            actual.put(s.key(), s.calls());
        });
        Map<MonthlySummaryKey, Long> expected = workload.expectedCalls();
        long expectedTotal = expected.values().stream().mapToLong(Long::longValue).sum();
        long actualTotal = actual.values().stream().mapToLong(Long::longValue).sum();
        boolean ok = expected.equals(actual);
        System.out.printf("verify: %,d summary records read, %,d keys; calls %,d (expected %,d over %,d keys): %s%n",
                read, actual.size(), actualTotal, expectedTotal, expected.size(), ok ? "OK" : "MISMATCH");
        if (!ok) {
            throw new IllegalStateException("the summaries differ from the expected calls");
        }
    }

    /** The generated input, and what the summaries must say about it. */
    private static final class Workload {
        final List<UsageEvent> records = new ArrayList<>();
        final List<AdminCommand.ResetUsage> resets = new ArrayList<>();
        final List<UsageEvent> unique = new ArrayList<>();
        String[] keys;
        byte[][] payloads;
        long payloadBytes;
        int duplicates;

        static Workload generate(int events, int userCount, Random random) {
            Workload w = new Workload();
            UUID[] users = new UUID[userCount];
            for (int i = 0; i < userCount; i++) {
                users[i] = new UUID(random.nextLong(), random.nextLong());
            }
            Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS).minus(Duration.ofMinutes(10));
            YearMonth current = YearMonth.from(now.atOffset(ZoneOffset.UTC));
            Instant start = current.minusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
            long spanMs = now.toEpochMilli() - start.toEpochMilli();
            Provider[] providers = Provider.values();
            var serializer = Topics.USAGE_EVENTS.valueSerde().serializer();
            for (int i = 0; i < events; i++) {
                if (i > 0 && random.nextDouble() < DUPLICATE_SHARE) {
                    // A client retry: the very same event again, shortly after.
                    w.records.add(w.unique.get(Math.max(0, w.unique.size() - 1 - random.nextInt(5_000))));
                    w.duplicates++;
                    continue;
                }
                long at = start.toEpochMilli() + spanMs * i / events;
                if (random.nextDouble() < LATE_SHARE) {
                    at = Math.max(start.toEpochMilli(), at - (long) (random.nextDouble() * Duration.ofDays(3).toMillis()));
                }
                int p = random.nextInt(providers.length);
                boolean failed = random.nextInt(100) < 5;
                UsageEvent e = new UsageEvent(new UUID(random.nextLong(), random.nextLong()).toString(),
                        users[random.nextInt(userCount)], Instant.ofEpochMilli(at), providers[p], ENDPOINTS[p % ENDPOINTS.length],
                        "POST", failed ? 500 + random.nextInt(4) : 200, 50 + random.nextInt(3_000), 200 + random.nextInt(4_000),
                        500 + random.nextInt(20_000), random.nextInt(8_000), 1 + random.nextInt(3));
                w.records.add(e);
                w.unique.add(e);
            }
            for (int i = 0; i < RESETS; i++) {
                // Within the last day: inside the dedupe window however the two topics interleave, so applied.
                Instant resetAt = now.minusMillis((long) (random.nextDouble() * Duration.ofDays(1).toMillis()));
                w.resets.add(new AdminCommand.ResetUsage("bench-reset-" + i, users[random.nextInt(userCount)],
                        YearMonth.from(resetAt.atOffset(ZoneOffset.UTC)), resetAt, resetAt, "bench@usage-meter"));
            }
            int sample = Math.min(userCount, 10_000);
            w.keys = new String[sample];
            w.payloads = new byte[sample][];
            for (int i = 0; i < sample; i++) {
                UsageEvent e = w.unique.get(i % w.unique.size());
                w.keys[i] = e.userId().toString();
                w.payloads[i] = serializer.serialize(Topics.USAGE_EVENTS.name(), e);
                w.payloadBytes += w.payloads[i].length;
            }
            return w;
        }

        /** Calls per user and month: every distinct event, minus those at or before the month's latest reset. */
        Map<MonthlySummaryKey, Long> expectedCalls() {
            Map<MonthlySummaryKey, Instant> latestReset = new HashMap<>();
            resets.forEach(r -> latestReset.merge(new MonthlySummaryKey(r.userId(), r.month()), r.resetAt(),
                    (a, b) -> a.isAfter(b) ? a : b));
            Map<MonthlySummaryKey, Long> calls = new HashMap<>();
            latestReset.keySet().forEach(k -> calls.put(k, 0L));
            for (UsageEvent e : unique) {
                MonthlySummaryKey key = MonthlySummaryKey.of(e);
                Instant reset = latestReset.get(key);
                if (reset == null || e.occurredAt().isAfter(reset)) {
                    calls.merge(key, 1L, Long::sum);
                }
            }
            return calls;
        }
    }
}
