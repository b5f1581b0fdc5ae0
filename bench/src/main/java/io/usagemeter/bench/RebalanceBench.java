package io.usagemeter.bench;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.LoggerFactory;

/**
 * What the broker's {@code OutOfOrderSequenceException} errors during an aggregator rebalance cost,
 * per transaction protocol of the embedded broker, alternated in one JVM.
 *
 * <p>One run: a fresh embedded broker for the variant, {@code events} usage events pre-loaded over
 * 10,000 users, one aggregator (production configuration from {@code METER_AGGREGATOR_*}: exactly-once
 * v2, commit 100 ms) started on them; once it has committed {@code joinAt} of the input a second
 * aggregator of the same application joins (the rebalance of issue 22), and both run until every
 * event's effect is committed. The group's committed offsets are sampled every 50 ms.
 *
 * <p>Reported per run: events/s over the whole run and before the join; after the join, the time to
 * finish and the longest time the committed offsets did not move (the stall: rebalance, task
 * migration, state restore and any transaction retry); the broker's {@code OutOfOrderSequenceException}
 * errors, and the producers' retried {@code CONCURRENT_TRANSACTIONS} and {@code OUT_OF_ORDER_SEQUENCE_NUMBER}
 * answers.
 *
 * <p>Variants ({@code -Dvariants=tv2,tv1,tv2-wait}): {@code tv2} the broker as Kafka 4.4 formats it
 * (transaction version 2); {@code tv1} formatted with {@code transaction.version=1};
 * {@code tv2-wait} version 2 with {@code add.partitions.to.txn.retry.backoff.max.ms=1000}, the
 * broker waiting up to a second for the previous transaction to end instead of 100 ms.
 * Options: {@code -Devents=N} (default 300,000), {@code -Drepeats=N} (default 2), {@code -DjoinAt=0.3},
 * {@code -DliveRate=N}: meanwhile a producer (acks=all, idempotent, as {@link RawProducerBench}) writes N events/s to a scratch topic
 * (default 0), the broker work that ingest's traffic adds in {@code meter dev}; {@code -DbusyThreads=N}:
 * N threads spin during each run (default 0), the CPU that ingest, the enforcer and the other helpers'
 * processes take on a shared 2-core machine; {@code -Dwarmup=false} skips the unreported first run
 * (the JVM's first run is slower whatever the variant).
 */
public final class RebalanceBench {

    private static final String APPLICATION = "rebalance-bench";
    private static final String LIVE_TOPIC = "bench.live-load";
    /** Written by the busy threads so that their loop is not optimised away. */
    private static volatile long spun;
    private static final int USERS = 10_000;
    private static final Duration SAMPLE = Duration.ofMillis(50);
    private static final Duration RUN_TIMEOUT = Duration.ofMinutes(10);

    private RebalanceBench() {
    }

    /** A broker set-up under test. */
    private record Variant(String name, Map<String, Short> features, Map<String, String> brokerConfig) {
        static Variant of(String name) {
            return switch (name) {
                case "tv2" -> new Variant(name, Map.of(), Map.of());
                case "tv1" -> new Variant(name, Map.of("transaction.version", (short) 1), Map.of());
                case "tv2-wait" -> new Variant(name, Map.of(), Map.of("add.partitions.to.txn.retry.backoff.max.ms", "1000"));
                default -> throw new IllegalArgumentException("unknown variant " + name + " (tv2, tv1, tv2-wait)");
            };
        }
    }

    /** Counts the log lines that tell of the errors under study. */
    private static final class ErrorCounts {
        final AtomicLong brokerOutOfOrder = new AtomicLong();
        final AtomicLong concurrentTransactions = new AtomicLong();
        final AtomicLong outOfOrderRetries = new AtomicLong();

        void install() {
            LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
            attach(context, "kafka.server.ReplicaManager", Level.ERROR, event -> {
                if (event.getThrowableProxy() != null
                        && event.getThrowableProxy().getClassName().endsWith("OutOfOrderSequenceException")) {
                    brokerOutOfOrder.incrementAndGet();
                }
            });
            attach(context, "org.apache.kafka.clients.producer.internals.Sender", Level.WARN, event -> {
                String message = event.getFormattedMessage();
                if (message.contains("CONCURRENT_TRANSACTIONS")) {
                    concurrentTransactions.incrementAndGet();
                } else if (message.contains("OUT_OF_ORDER_SEQUENCE_NUMBER")) {
                    outOfOrderRetries.incrementAndGet();
                }
            });
        }

        void reset() {
            brokerOutOfOrder.set(0);
            concurrentTransactions.set(0);
            outOfOrderRetries.set(0);
        }

        /** Replaces the logger's output by the count: thousands of stack traces would drown the figures. */
        private static void attach(LoggerContext context, String name, Level level, java.util.function.Consumer<ILoggingEvent> sink) {
            Logger logger = context.getLogger(name);
            logger.setLevel(level);
            logger.setAdditive(false);
            AppenderBase<ILoggingEvent> counter = new AppenderBase<>() {
                @Override
                protected void append(ILoggingEvent event) {
                    sink.accept(event);
                }
            };
            counter.setContext(context);
            counter.start();
            logger.addAppender(counter);
        }
    }

    private record Sample(long nanos, long committed) {}

    private record Result(double seconds, double beforeJoinRate, double afterJoinSeconds, double longestStallAfterJoin,
                          double longestStallBeforeJoin, long brokerOutOfOrder, long concurrentTransactions,
                          long outOfOrderRetries, String transactionVersion) {}

    public static void main(String[] args) throws Exception {
        int events = Integer.getInteger("events", 300_000);
        int repeats = Integer.getInteger("repeats", 2);
        double joinAt = Double.parseDouble(System.getProperty("joinAt", "0.3"));
        int liveRate = Integer.getInteger("liveRate", 0);
        int busyThreads = Integer.getInteger("busyThreads", 0);
        boolean warmup = !"false".equals(System.getProperty("warmup"));
        List<Variant> variants = new ArrayList<>();
        for (String name : System.getProperty("variants", "tv2,tv1,tv2-wait").split(",")) {
            variants.add(Variant.of(name.strip()));
        }
        ErrorCounts counts = new ErrorCounts();
        counts.install();
        List<byte[]> payloads = payloads(events);
        System.out.printf("rebalance bench: %,d events over %,d users, second aggregator joins at %.0f %% committed;"
                        + " %,d events/s of other traffic, %d busy threads; variants %s, %d rounds%n", events, USERS,
                joinAt * 100, liveRate, busyThreads, variants.stream().map(Variant::name).toList(), repeats);
        if (warmup) {
            run(variants.get(0), payloads, joinAt, liveRate, busyThreads, counts);
        }
        for (int round = 1; round <= repeats; round++) {
            for (Variant variant : variants) {
                counts.reset();
                Result r = run(variant, payloads, joinAt, liveRate, busyThreads, counts);
                System.out.printf("round %d %-8s (transaction.version %s): %,.0f events/s overall, %,.0f before the join;"
                                + " after the join %.1f s to finish, longest stall %.2f s (before: %.2f s);"
                                + " broker OutOfOrderSequence errors %,d; producer retries CONCURRENT_TRANSACTIONS %,d,"
                                + " OUT_OF_ORDER_SEQUENCE_NUMBER %,d%n",
                        round, variant.name(), r.transactionVersion(), events / r.seconds(), r.beforeJoinRate(),
                        r.afterJoinSeconds(), r.longestStallAfterJoin(), r.longestStallBeforeJoin(), r.brokerOutOfOrder(),
                        r.concurrentTransactions(), r.outOfOrderRetries());
            }
        }
    }

    private static Result run(Variant variant, List<byte[]> payloads, double joinAt, int liveRate, int busyThreads,
                              ErrorCounts counts) throws Exception {
        java.util.concurrent.atomic.AtomicBoolean spinning = new java.util.concurrent.atomic.AtomicBoolean(true);
        List<Thread> busy = new ArrayList<>();
        for (int i = 0; i < busyThreads; i++) {
            Thread spinner = new Thread(() -> {
                while (spinning.get()) {
                    spun += System.nanoTime() & 1;
                }
            }, "bench-busy-" + i);
            spinner.setDaemon(true);
            spinner.start();
            busy.add(spinner);
        }
        try {
            return run(variant, payloads, joinAt, liveRate, counts);
        } finally {
            spinning.set(false);
            for (Thread spinner : busy) {
                spinner.join();
            }
        }
    }

    private static Result run(Variant variant, List<byte[]> payloads, double joinAt, int liveRate, ErrorCounts counts)
            throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null, 0, variant.brokerConfig(), variant.features());
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
             LiveLoad live = new LiveLoad(broker.bootstrapServers(), liveRate, payloads)) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            admin.createTopics(List.of(new NewTopic(LIVE_TOPIC, TopicSettings.singleBroker().partitions(), (short) 1))).all().get();
            String version = admin.describeFeatures().featureMetadata().get().finalizedFeatures()
                    .entrySet().stream().filter(e -> e.getKey().equals("transaction.version"))
                    .map(e -> Short.toString(e.getValue().maxVersionLevel())).findFirst().orElse("0");
            preload(broker.bootstrapServers(), payloads);
            Map<TopicPartition, Long> ends = endOffsets(admin);
            long total = ends.values().stream().mapToLong(Long::longValue).sum();
            Path stateA = Files.createTempDirectory("rebalance-a-");
            Path stateB = Files.createTempDirectory("rebalance-b-");
            List<Sample> samples = new ArrayList<>();
            live.start();
            long started = System.nanoTime();
            long joined = 0;
            AggregatorService second = null;
            try (AggregatorService first = new AggregatorService(config(broker, stateA), Clock.systemUTC()).start()) {
                long deadline = started + RUN_TIMEOUT.toNanos();
                while (true) {
                    long committed = committed(admin);
                    long now = System.nanoTime();
                    samples.add(new Sample(now, committed));
                    if (committed >= total) {
                        break;
                    }
                    if (second == null && committed >= joinAt * total) {
                        second = new AggregatorService(config(broker, stateB), Clock.systemUTC()).start();
                        joined = now;
                    }
                    if (now > deadline) {
                        throw new IllegalStateException(variant.name() + ": not caught up within " + RUN_TIMEOUT);
                    }
                    Thread.sleep(SAMPLE.toMillis());
                }
            } finally {
                if (second != null) {
                    second.close();
                }
            }
            long finished = samples.get(samples.size() - 1).nanos();
            // The join time, or the end when the first aggregator finished before the second was started.
            long join = joined == 0 ? finished : joined;
            long atJoin = samples.stream().filter(s -> s.nanos() <= join).mapToLong(Sample::committed).max().orElse(0);
            return new Result((finished - started) / 1e9, atJoin / ((join - started) / 1e9), (finished - join) / 1e9,
                    longestStall(samples, join, finished), longestStall(samples, started, join),
                    counts.brokerOutOfOrder.get(), counts.concurrentTransactions.get(), counts.outOfOrderRetries.get(),
                    version);
        }
    }

    /** The longest time between {@code from} and {@code to} during which the committed offsets did not move. */
    private static double longestStall(List<Sample> samples, long from, long to) {
        long longest = 0;
        long lastMove = from;
        long last = -1;
        for (Sample s : samples) {
            if (s.nanos() < from || s.nanos() > to) {
                if (s.nanos() < from) {
                    last = s.committed();
                }
                continue;
            }
            if (s.committed() != last) {
                longest = Math.max(longest, s.nanos() - lastMove);
                lastMove = s.nanos();
                last = s.committed();
            }
        }
        return Math.max(longest, to - lastMove) / 1e9;
    }

    /** Other traffic on the same broker at a fixed rate, on a thread of its own, until closed. */
    private static final class LiveLoad implements AutoCloseable {
        private final KafkaProducer<String, byte[]> producer;
        private final int rate;
        private final List<byte[]> payloads;
        private final Thread thread;
        private volatile boolean running = true;

        LiveLoad(String bootstrap, int rate, List<byte[]> payloads) {
            this.producer = rate > 0 ? new KafkaProducer<>(RawProducerBench.producerProps(bootstrap), new StringSerializer(),
                    new ByteArraySerializer()) : null;
            this.rate = rate;
            this.payloads = payloads;
            this.thread = new Thread(this::produce, "bench-live-load");
        }

        void start() {
            if (producer != null) {
                thread.start();
            }
        }

        private void produce() {
            long started = System.nanoTime();
            for (long n = 0; running; n++) {
                long due = started + n * 1_000_000_000L / rate;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(wait);
                }
                int i = (int) (n % payloads.size());
                producer.send(new ProducerRecord<>(LIVE_TOPIC, USER_IDS[i % USERS].toString(), payloads.get(i)));
            }
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            if (producer != null) {
                thread.join();
                producer.close();
            }
        }
    }

    private static AggregatorConfig config(EmbeddedKafkaBroker broker, Path stateDir) {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.put("METER_KAFKA_BOOTSTRAP", broker.bootstrapServers());
        env.put("METER_AGGREGATOR_APPLICATION_ID", APPLICATION);
        env.put("METER_AGGREGATOR_STATE_DIR", stateDir.toString());
        env.put("METER_AGGREGATOR_HTTP_PORT", "0");
        return AggregatorConfig.fromEnv(env);
    }

    private static long committed(Admin admin) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(APPLICATION)
                .partitionsToOffsetAndMetadata().get();
        return offsets.entrySet().stream().filter(e -> e.getKey().topic().equals(Topics.USAGE_EVENTS.name()))
                .mapToLong(e -> e.getValue() == null ? 0 : e.getValue().offset()).sum();
    }

    private static Map<TopicPartition, Long> endOffsets(Admin admin) throws Exception {
        String topic = Topics.USAGE_EVENTS.name();
        int partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            request.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        Map<TopicPartition, Long> ends = new HashMap<>();
        admin.listOffsets(request).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
        return ends;
    }

    private static final UUID[] USER_IDS = users();

    private static UUID[] users() {
        Random random = new Random(42);
        UUID[] users = new UUID[USERS];
        for (int i = 0; i < USERS; i++) {
            users[i] = new UUID(random.nextLong(), random.nextLong());
        }
        return users;
    }

    /** Unique events of this month over {@value #USERS} users, serialized once and reused by every run. */
    private static List<byte[]> payloads(int events) {
        UUID[] users = USER_IDS;
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS).minus(Duration.ofMinutes(5));
        var serializer = Topics.USAGE_EVENTS.valueSerde().serializer();
        List<byte[]> payloads = new ArrayList<>(events);
        Provider[] providers = Provider.values();
        for (int i = 0; i < events; i++) {
            UsageEvent e = new UsageEvent("rebalance-" + i, users[i % USERS], now.minusMillis(i % 600_000),
                    providers[i % providers.length], "/v1/chat/completions", "POST", 200, 40 + i % 900, 700, 1500, i % 4000, 1);
            payloads.add(serializer.serialize(Topics.USAGE_EVENTS.name(), e));
        }
        return payloads;
    }

    private static void preload(String bootstrap, List<byte[]> payloads) {
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(RawProducerBench.producerProps(bootstrap),
                new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < payloads.size(); i++) {
                // Keyed by user, as ingest does (user i % USERS).
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), USER_IDS[i % USERS].toString(), payloads.get(i)));
            }
            producer.flush();
        }
    }
}
