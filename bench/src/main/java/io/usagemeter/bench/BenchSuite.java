package io.usagemeter.bench;

import static io.usagemeter.bench.SuiteTable.number;
import static io.usagemeter.bench.SuiteTable.ratio;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.enforcer.internal.LimitQueries;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.ingest.client.UsageClient;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.state.HostInfo;
import org.flywaydb.core.Flyway;

/**
 * The standard benchmark suite ({@code bench/run [--quick]}): the ceiling, the older design and the
 * pipeline side by side in one JVM on one embedded broker and one embedded PostgreSQL, printed as one
 * Markdown table with ratios taken within the run (the machine is shared and noisy: absolute numbers
 * move between runs, ratios much less).
 *
 * <p>Phases, in order: raw producer (ceiling, scratch topic); the older design (SQL check + INSERT with a
 * summary trigger, 32 writers, then the SQL check alone); HTTP batch ingest; {@link UsageClient}'s Kafka
 * transport; the aggregator catching up on everything ingested (summaries only, exactly-once); limit checks
 * over HTTP (64 concurrent, keep-alive) and as in-process store lookups; end-to-end freshness (post one
 * event for a new user, poll {@code GET /v1/limits} until it counts it) under a background ingest load;
 * then benchmarks of other branches found on the classpath, in child JVMs.
 *
 * <p>System properties: {@code -Dquick}, {@code -Dresults=DIR} (where the table is written).
 */
public final class BenchSuite {

    private static final String CEILING_TOPIC = "bench.raw-ceiling";
    private static final int BATCH = 500;
    private static final int INGEST_CONNECTIONS = 32;
    private static final int CHECK_CONNECTIONS = 64;
    private static final Pattern USED = Pattern.compile("\"used\"\\s*:\\s*(\\d+)");

    /**
     * How much each phase does; quick fits in under 3 minutes, full in under 20 (plus the build). The
     * freshness background load is at most {@code backgroundEventsPerSecond} and at most half the aggregator
     * rate measured in the same run: above the aggregator's capacity the backlog, not the pipeline's
     * latency, would be measured.
     */
    private record Sizes(boolean quick, int ceilingEvents, int httpEvents, int clientEvents, double baselineSeconds,
                         double checkSeconds, double freshnessSeconds, int freshnessPerSecond, int backgroundEventsPerSecond) {
        static Sizes of(boolean quick) {
            return quick
                    ? new Sizes(true, 300_000, 100_000, 60_000, 8, 6, 8, 10, 25_000)
                    : new Sizes(false, 2_000_000, 1_000_000, 500_000, 30, 30, 30, 20, 50_000);
        }
    }

    /**
     * A benchmark of another branch, looked up by class name so this suite compiles without it, and run in a
     * child JVM ({@code mainClass} with {@code args}; JMH benchmarks through {@code org.openjdk.jmh.Main})
     * when present. Lines matching {@code resultLine} go into the table.
     */
    private record OptionalBench(String figure, String className, List<String> jvmArgs, String mainClass,
                                 List<String> args, Pattern resultLine) {
    }

    private static final List<OptionalBench> OPTIONAL = List.of(
            new OptionalBench("AggregatorBench (branch aggperf): aggregator, exactly-once, vs raw producer",
                    "io.usagemeter.bench.AggregatorBench", List.of("-Dquick", "-Drepeats=1", "-Dverify=false"),
                    "io.usagemeter.bench.AggregatorBench", List.of(),
                    Pattern.compile("^run \\d+.*events/s.*$")),
            new OptionalBench("IngestCodecBench (branch ingestperf, JMH): ingest parse/validate/serde CPU per batch of 500",
                    "io.usagemeter.bench.IngestCodecBench", List.of(), "org.openjdk.jmh.Main",
                    List.of("IngestCodecBench", "-wi", "5", "-i", "5", "-f", "1"),
                    Pattern.compile("^(IngestCodecBench\\.\\S+\\s+\\S+\\s+\\d+.*)$")),
            new OptionalBench("ReplayBench (branch replay): real replay of a month (summaries and api_usage) vs the live"
                    + " aggregator, sink running, 300,000 events",
                    "io.usagemeter.bench.ReplayBench", List.of("-Devents=300000"), "io.usagemeter.bench.ReplayBench",
                    List.of(), Pattern.compile("^(live aggregator.*events/s.*|replay .*records/s.*)$")));

    private final Sizes sizes;
    private final UsageMix mix = new UsageMix();
    private final SuiteTable table = new SuiteTable();
    private final AtomicInteger nextCall = new AtomicInteger();
    private PhaseCost cost;

    private BenchSuite(Sizes sizes) {
        this.sizes = sizes;
    }

    public static void main(String[] args) throws Exception {
        boolean quick = System.getProperty("quick") != null || List.of(args).contains("--quick");
        Path results = Path.of(System.getProperty("results", "bench/results"));
        BenchSuite suite = new BenchSuite(Sizes.of(quick));
        long started = System.nanoTime();
        suite.run();
        String host = InetAddress.getLocalHost().getHostName();
        String heading = String.format(Locale.ROOT, "usage-meter benchmark suite (%s), %s on %s, %.0f s",
                quick ? "--quick" : "full", Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS), host,
                (System.nanoTime() - started) / 1e9);
        String markdown = suite.table.markdown(heading, machine());
        System.out.println();
        System.out.println(markdown);
        Files.createDirectories(results);
        Path file = results.resolve(LocalDate.now(ZoneOffset.UTC) + "-" + host + (quick ? "-quick" : "") + ".md");
        Files.writeString(file, markdown);
        System.out.println("written to " + file);
        System.exit(0);
    }

    private static String machine() {
        long memory = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    memory = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception e) {
            // not Linux: memory unknown
        }
        String cpu = "";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .findFirst().map(l -> ", " + l.substring(l.indexOf(':') + 1).strip()).orElse("");
        } catch (Exception e) {
            // not Linux: model unknown
        }
        return String.format(Locale.ROOT, "Machine: %d cores%s, %s memory, JDK %s (%s), %s %s; JVM max heap %d MiB.",
                Runtime.getRuntime().availableProcessors(), cpu,
                memory < 0 ? "unknown" : String.format(Locale.ROOT, "%.1f GiB", memory / (1024.0 * 1024 * 1024)),
                System.getProperty("java.version"), System.getProperty("java.vm.name"),
                System.getProperty("os.name"), System.getProperty("os.arch"),
                Runtime.getRuntime().maxMemory() / (1024 * 1024));
    }

    private void run() throws Exception {
        Path stateRoot = Files.createTempDirectory("bench-suite");
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start();
             EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start()) {
            String meterDb = postgres.createDatabase("meter");
            Flyway.configure().dataSource(meterDb, EmbeddedPostgresServer.SUPERUSER, "")
                    .locations("classpath:db/migration").load().migrate();
            String baselineDb = postgres.createDatabase("legacy_baseline");
            cost = new PhaseCost(postmasterPid(baselineDb));
            int partitions;
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
                partitions = TopicSettings.singleBroker().partitions();
                admin.createTopics(List.of(new NewTopic(CEILING_TOPIC, partitions, (short) 1))).all().get();
            }
            table.note(String.format(Locale.ROOT, "Events: %d bytes of JSON on average, %,d users, one JVM for broker, "
                    + "services and load; PostgreSQL %s; %d partitions per topic.", averageSize(), UsageMix.USERS,
                    "embedded (io.zonky, fsync=off: favours the baseline)", partitions));

            double ceiling = ceiling(kafka.bootstrapServers());
            double[] baseline = baseline(baselineDb);
            double baselineRate = baseline[0];
            double baselineCheckP99 = baseline[1];

            var dataSource = new org.postgresql.ds.PGSimpleDataSource();
            dataSource.setUrl(meterDb);
            dataSource.setUser(EmbeddedPostgresServer.SUPERUSER);
            String apiKey = new ApiKeyStore(dataSource, Clock.systemUTC())
                    .issue("bench-suite", Set.of(ApiKeyScopes.EVENTS_WRITE, ApiKeyScopes.LIMITS_READ)).secret();
            EnforcerConfig enforcerConfig = EnforcerConfig.defaults(kafka.bootstrapServers(), stateRoot.resolve("enforcer"),
                    meterDb, EmbeddedPostgresServer.SUPERUSER, "");
            try (IngestService ingest = IngestService.create(IngestConfig.defaults(kafka.bootstrapServers(), meterDb,
                         EmbeddedPostgresServer.SUPERUSER, "").withPort(0)).start();
                 EnforcerService enforcer = EnforcerService.create(enforcerConfig).start()) {
                URI events = URI.create("http://localhost:" + ingest.port() + "/v1/events");
                URI limits = URI.create("http://localhost:" + enforcer.port() + "/v1/limits/");
                HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

                double httpRate = httpIngest(http, events, apiKey, ceiling, baselineRate);
                usageClient(kafka.bootstrapServers(), ceiling);
                AggregatorConfig aggConfig = AggregatorConfig.defaults(kafka.bootstrapServers(), stateRoot.resolve("aggregator"))
                        .withApplicationId("bench-suite-aggregator");
                AggregatorService aggregator = new AggregatorService(aggConfig, Clock.systemUTC());
                try {
                    // The bare aggregate first, once, so the JIT has compiled what both share (the event
                    // decoding above all) before either is measured: the first Streams app of this JVM pays it.
                    bareAggregate(kafka.bootstrapServers(), aggConfig, null, "bench-suite-bare-warm-up");
                    CatchUp live = aggregator(aggregator, kafka.bootstrapServers(), aggConfig.applicationId(), ceiling);
                    double aggregatorRate = live.rate();
                    changelogRecords(kafka.bootstrapServers(), aggConfig.applicationId(), live.events());
                    bareAggregate(kafka.bootstrapServers(), aggConfig, live, "bench-suite-bare-aggregate");
                    pipeline(httpRate, aggregatorRate, baselineRate, ceiling);
                    if (!awaitCaughtUp(kafka.bootstrapServers(), enforcerConfig.applicationId(),
                            Topics.USAGE_SUMMARIES.name(), Duration.ofSeconds(sizes.quick() ? 30 : 120))) {
                        table.note("The enforcer had not caught up on the summaries when the limit checks started.");
                    }
                    double lookupRate = storeLookups(enforcer, enforcerConfig);
                    httpChecks(limits, apiKey, baselineCheckP99, lookupRate);
                    int background = (int) Math.min(sizes.backgroundEventsPerSecond(),
                            aggregatorRate > 0 ? aggregatorRate / 2 : 1_000);
                    freshness(http, events, limits, apiKey, Math.max(background, 500));
                    // Last: it fills the dedupe window with 4 M events (all of them inside 48 h here).
                    aggregator = stateAndRestore(aggregator, aggConfig, kafka.bootstrapServers());
                } finally {
                    aggregator.close();
                }
            }
        }
        optionalBenches();
    }

    // ---- ceiling

    private double ceiling(String bootstrap) {
        byte[][] values = new byte[1000][];
        for (int i = 0; i < values.length; i++) {
            values[i] = Json.write(mix.event(i)).getBytes(StandardCharsets.UTF_8);
        }
        byte[][] keys = new byte[UsageMix.USERS][];
        for (int i = 0; i < UsageMix.USERS; i++) {
            keys[i] = mix.user(i).toString().getBytes(StandardCharsets.UTF_8);
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        try (var producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            rawSend(producer, keys, values, sizes.ceilingEvents() / 5);
            log("ceiling: raw KafkaProducer");
            cost.begin();
            long start = System.nanoTime();
            rawSend(producer, keys, values, sizes.ceilingEvents());
            double rate = sizes.ceilingEvents() / ((System.nanoTime() - start) / 1e9);
            var c = cost.end();
            table.add(new SuiteTable.Row("Ceiling: raw KafkaProducer → embedded broker (acks=all, lz4, pre-serialised)",
                    number(rate), "events/s", "", "", "", cpu(c, sizes.ceilingEvents()), rss(c)));
            return rate;
        }
    }

    private static void rawSend(KafkaProducer<byte[], byte[]> producer, byte[][] keys, byte[][] values, int count) {
        AtomicLong failed = new AtomicLong();
        for (int i = 0; i < count; i++) {
            producer.send(new ProducerRecord<>(CEILING_TOPIC, keys[i % keys.length], values[i % values.length]),
                    (m, e) -> {
                        if (e != null) {
                            failed.incrementAndGet();
                        }
                    });
        }
        producer.flush();
        if (failed.get() > 0) {
            throw new IllegalStateException(failed.get() + " raw sends failed");
        }
    }

    // ---- the older design

    /** Returns {calls/s, SQL check p99 in ns when run alone}. */
    private double[] baseline(String url) throws Exception {
        log("baseline: SQL check + INSERT with row trigger, 32 writers");
        LegacyBaseline legacy = new LegacyBaseline(url, EmbeddedPostgresServer.SUPERUSER, mix);
        legacy.prepare();
        cost.begin();
        int first = nextCall.getAndAdd(50_000_000);
        var load = legacy.writeLoad(first, 3, sizes.baselineSeconds(), true);
        var c = cost.end();
        long summarised = legacy.summarisedCalls();
        table.add(new SuiteTable.Row("Baseline (older design): sustained calls, SQL check + INSERT + summary trigger, 32 writers",
                number(load.callsPerSecond()), "events/s", "", "", "", cpu(c, load.calls()), rss(c)));
        table.add(new SuiteTable.Row("Baseline: SQL limit check under that write load, p50 / p99",
                ms(load.checkLatency(), 50) + " / " + ms(load.checkLatency(), 99), "ms", "", "", "", "", ""));
        table.add(new SuiteTable.Row("Baseline: INSERT (trigger included) under that load, p50 / p99",
                ms(load.insertLatency(), 50) + " / " + ms(load.insertLatency(), 99), "ms", "", "", "", "", ""));
        log("baseline: SQL check alone, 32 connections");
        var checks = legacy.writeLoad(first + 40_000_000, 2, sizes.baselineSeconds() / 2, false);
        table.add(new SuiteTable.Row("Baseline: SQL limit check alone, 32 connections, p50 / p99",
                ms(checks.checkLatency(), 50) + " / " + ms(checks.checkLatency(), 99), "ms", "", "", "",
                "", ""));
        table.add(new SuiteTable.Row("Baseline: SQL limit checks alone, rate", number(checks.callsPerSecond()),
                "checks/s", "", "", "", "", ""));
        if (load.failures() + checks.failures() > 0) {
            table.note((load.failures() + checks.failures()) + " baseline statements failed.");
        }
        table.note(String.format(Locale.ROOT, "Baseline check: trigger-maintained summary verified (%,d calls summarised "
                + "= rows in api_usage).", summarised));
        return new double[] {load.callsPerSecond(), checks.checkLatency().getValueAtPercentile(99)};
    }

    // ---- the pipeline: ingest

    private double httpIngest(HttpClient http, URI uri, String apiKey, double ceiling, double baselineRate) throws Exception {
        log("pipeline: HTTP batch ingest");
        httpBodies(http, uri, apiKey, batchBodies(sizes.httpEvents() / 5));
        String[] bodies = batchBodies(sizes.httpEvents());
        cost.begin();
        long start = System.nanoTime();
        Histogram latency = httpBodies(http, uri, apiKey, bodies);
        double rate = sizes.httpEvents() / ((System.nanoTime() - start) / 1e9);
        var c = cost.end();
        table.add(new SuiteTable.Row("HTTP batch ingest (" + BATCH + " events/request, " + INGEST_CONNECTIONS + " connections)",
                number(rate), "events/s", "ceiling", ratio(rate, ceiling), "≥ 0.5× ceiling: " + SuiteTable.met(rate >= ceiling / 2),
                cpu(c, sizes.httpEvents()), rss(c)));
        table.add(new SuiteTable.Row("HTTP batch ingest: request latency p50 / p99",
                ms(latency, 50) + " / " + ms(latency, 99), "ms", "", "", "", "", ""));
        return rate;
    }

    /**
     * {@code count} new events (ids unique in the run) as JSON batches of {@value #BATCH}, serialised before
     * the clock starts as the ceiling's records are.
     */
    private String[] batchBodies(int count) {
        int requests = count / BATCH;
        int first = nextCall.getAndAdd(requests * BATCH);
        String[] bodies = new String[requests];
        for (int r = 0; r < requests; r++) {
            List<UsageEvent> batch = new ArrayList<>(BATCH);
            for (int i = 0; i < BATCH; i++) {
                batch.add(mix.event(first + r * BATCH + i));
            }
            bodies[r] = Json.write(batch);
        }
        return bodies;
    }

    /** POSTs every body once over {@value #INGEST_CONNECTIONS} connections; the request latencies. */
    private Histogram httpBodies(HttpClient http, URI uri, String apiKey, String[] bodies) throws Exception {
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(INGEST_CONNECTIONS);
        List<Future<Histogram>> results = new ArrayList<>();
        for (int t = 0; t < INGEST_CONNECTIONS; t++) {
            results.add(pool.submit(() -> {
                Histogram latency = new Histogram(60_000_000_000L, 3);
                int r;
                while ((r = next.getAndIncrement()) < bodies.length) {
                    long sent = System.nanoTime();
                    if (post(http, uri, apiKey, bodies[r]) != 202) {
                        failures.incrementAndGet();
                    }
                    latency.recordValue(System.nanoTime() - sent);
                }
                return latency;
            }));
        }
        Histogram all = new Histogram(60_000_000_000L, 3);
        for (Future<Histogram> f : results) {
            all.add(f.get());
        }
        pool.shutdown();
        if (failures.get() > 0) {
            table.note(failures.get() + " ingest batches were not answered 202 (their events are not counted by the aggregator).");
        }
        return all;
    }

    private static int post(HttpClient http, URI uri, String apiKey, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri)
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + apiKey)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private void usageClient(String bootstrap, double ceiling) {
        log("pipeline: UsageClient Kafka transport");
        int n = sizes.clientEvents();
        try (UsageClient client = UsageClient.toKafka(bootstrap).maxPendingEvents(200_000).build()) {
            int warm = nextCall.getAndAdd(n / 5);
            for (int i = 0; i < n / 5; i++) {
                client.emit(mix.event(warm + i));
            }
            client.flush();
            int first = nextCall.getAndAdd(n);
            cost.begin();
            long start = System.nanoTime();
            for (int i = 0; i < n; i++) {
                client.emit(mix.event(first + i));
            }
            client.flush();
            double rate = n / ((System.nanoTime() - start) / 1e9);
            var c = cost.end();
            table.add(new SuiteTable.Row("UsageClient, Kafka transport (serialising UsageEvent)", number(rate), "events/s",
                    "ceiling", ratio(rate, ceiling), "", cpu(c, n), rss(c)));
        }
    }

    // ---- the pipeline: aggregator

    /** A Streams application's catch-up on the backlog: events/s from its first commit, events, stream-thread CPU s. */
    private record CatchUp(double rate, long events, double streamCpuSeconds) {
    }

    private CatchUp aggregator(AggregatorService aggregator, String bootstrap, String group, double ceiling) throws Exception {
        log("pipeline: aggregator catching up");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            long end = total(endOffsets(admin, Topics.USAGE_EVENTS.name()).values());
            StreamThreadCpu threads = new StreamThreadCpu(group);
            cost.begin();
            long startedAt = System.nanoTime();
            aggregator.start();
            long firstProgressAt = -1;
            long firstProgress = 0;
            long committed = 0;
            long deadline = startedAt + TimeUnit.SECONDS.toNanos(sizes.quick() ? 90 : 480);
            while (committed < end && System.nanoTime() < deadline) {
                Thread.sleep(100);
                threads.seconds();
                committed = total(committed(admin, group, Topics.USAGE_EVENTS.name()).values());
                if (firstProgressAt < 0 && committed > 0) {
                    firstProgressAt = System.nanoTime();
                    firstProgress = committed;
                }
            }
            long doneAt = System.nanoTime();
            double streamCpu = threads.seconds();
            var c = cost.end();
            if (committed < end) {
                table.note(String.format(Locale.ROOT, "The aggregator committed %,d of %,d events before the deadline.",
                        committed, end));
            }
            double rate = firstProgressAt < 0 || doneAt <= firstProgressAt ? -1
                    : (committed - firstProgress) / ((doneAt - firstProgressAt) / 1e9);
            double withStart = committed / ((doneAt - startedAt) / 1e9);
            table.add(new SuiteTable.Row(String.format(Locale.ROOT,
                    "Aggregator, exactly-once, summaries only (backlog of %,d events, from first commit to all committed)", end),
                    number(rate), "events/s", "target 100,000/s", ratio(rate, 100_000),
                    "≥ 100,000/s: " + SuiteTable.met(rate >= 100_000), cpu(c, committed), rss(c)));
            table.add(new SuiteTable.Row("Aggregator, the same including start-up (from start() to all committed)",
                    number(withStart), "events/s", "ceiling", ratio(withStart, ceiling), "", "", ""));
            double micros = committed > 0 ? streamCpu * 1e6 / committed : -1;
            table.add(new SuiteTable.Row("Aggregator, stream-thread CPU per event (start-up included)",
                    number(micros), "µs", "", "", "≤ 10 µs: " + SuiteTable.met(micros >= 0 && micros <= 10), "", ""));
            return new CatchUp(rate, committed, streamCpu);
        }
    }

    /** Records in the aggregator's changelog topics (their end offsets) per input event it has committed. */
    private void changelogRecords(String bootstrap, String applicationId, long events) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            List<String> changelogs = admin.listTopics().names().get().stream()
                    .filter(t -> t.startsWith(applicationId + "-") && t.endsWith("-changelog")).sorted().toList();
            long records = 0;
            StringBuilder perTopic = new StringBuilder();
            for (String topic : changelogs) {
                long n = total(endOffsets(admin, topic).values());
                records += n;
                perTopic.append(perTopic.length() == 0 ? "" : ", ").append(topic.substring(applicationId.length() + 1))
                        .append(' ').append(String.format(Locale.ROOT, "%,d", n));
            }
            double perEvent = events > 0 ? (double) records / events : -1;
            table.add(new SuiteTable.Row("Changelog records per event (end offsets of the aggregator's changelogs / events"
                    + " committed, transaction markers included)", String.format(Locale.ROOT, "%.3f", perEvent),
                    "records/event", String.format(Locale.ROOT, "%,d records over %,d events", records, events), "",
                    "≤ 1.2: " + SuiteTable.met(perEvent >= 0 && perEvent <= 1.2), "", ""));
            table.note("Changelogs: " + perTopic + ".");
        }
    }

    /**
     * The reference of the aggregator's rate: {@link BareStreamsAggregate} on the same backlog, measured the
     * same way (from its first commit to all committed), right after the aggregator.
     */
    private void bareAggregate(String bootstrap, AggregatorConfig config, CatchUp aggregator, String applicationId)
            throws Exception {
        log("pipeline: bare Streams aggregate on the same backlog" + (aggregator == null ? " (JIT warm-up)" : ""));
        StreamThreadCpu threads = new StreamThreadCpu(applicationId);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            long end = total(endOffsets(admin, Topics.USAGE_EVENTS.name()).values());
            cost.begin();
            var streams = BareStreamsAggregate.start(config, applicationId);
            try {
                long firstProgressAt = -1;
                long firstProgress = 0;
                long committed = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(sizes.quick() ? 90 : 480);
                while (committed < end && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                    threads.seconds();
                    committed = total(committed(admin, applicationId, Topics.USAGE_EVENTS.name()).values());
                    if (firstProgressAt < 0 && committed > 0) {
                        firstProgressAt = System.nanoTime();
                        firstProgress = committed;
                    }
                }
                long doneAt = System.nanoTime();
                double streamCpu = threads.seconds();
                var c = cost.end();
                double rate = firstProgressAt < 0 || doneAt <= firstProgressAt ? -1
                        : (committed - firstProgress) / ((doneAt - firstProgressAt) / 1e9);
                double micros = committed > 0 ? streamCpu * 1e6 / committed : -1;
                if (aggregator == null) {
                    table.note(String.format(Locale.ROOT, "JIT warm-up before the aggregator: the bare aggregate once,"
                            + " %s events/s, %.2f µs of stream-thread CPU per event.", number(rate), micros));
                    return;
                }
                table.add(new SuiteTable.Row("Bare Streams aggregate: same topic and serde, count and sum per user and month"
                        + " in one cached logged store, exactly-once, commit " + config.commitInterval().toMillis()
                        + " ms; stream-thread CPU per event", number(rate) + "; " + number(micros), "events/s; µs", "", "",
                        "", cpu(c, committed), rss(c)));
                double cpuRatio = micros > 0 ? aggregator.streamCpuSeconds() * 1e6 / aggregator.events() / micros : -1;
                table.add(new SuiteTable.Row("Aggregator vs bare Streams aggregate (events/s; stream-thread CPU per event,"
                        + " aggregator / bare: " + (cpuRatio < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f×", cpuRatio))
                        + ")", number(aggregator.rate()), "events/s", "bare aggregate " + number(rate),
                        ratio(aggregator.rate(), rate), "≥ 0.7×: " + SuiteTable.met(rate > 0 && aggregator.rate() >= 0.7 * rate)
                        + "; stretch 0.9×: " + SuiteTable.met(rate > 0 && aggregator.rate() >= 0.9 * rate), "", ""));
            } finally {
                streams.close(Duration.ofSeconds(30));
            }
        }
    }

    /**
     * State size and restore: the aggregator's non-window stores after {@code n} and after {@code 2n} events over
     * the same users and months (they must stay the same size), then the time a fresh instance takes to restore
     * its state after the state directory is deleted. Returns the restored, running instance.
     */
    private AggregatorService stateAndRestore(AggregatorService aggregator, AggregatorConfig config, String bootstrap)
            throws Exception {
        long n = sizes.quick() ? 500_000 : 2_000_000;
        log("aggregator: state after " + n + " and " + 2 * n + " events");
        StateSize first;
        StateSize second;
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            long backlog = total(endOffsets(admin, Topics.USAGE_EVENTS.name()).values());
            produceEvents(bootstrap, Math.max(0, n - backlog));
            awaitCaughtUp(bootstrap, config.applicationId(), Topics.USAGE_EVENTS.name(), Duration.ofMinutes(5));
            first = StateSize.of(aggregator, config);
            produceEvents(bootstrap, n);
            awaitCaughtUp(bootstrap, config.applicationId(), Topics.USAGE_EVENTS.name(), Duration.ofMinutes(5));
            second = StateSize.of(aggregator, config);
        }
        double growth = first.entries() > 0 ? (double) second.entries() / first.entries() : -1;
        table.add(new SuiteTable.Row(String.format(Locale.ROOT, "Aggregator state, non-window stores (summaries, resets):"
                        + " entries after %,d / %,d events over %,d users (local RocksDB bytes %s / %s)", n, 2 * n,
                        UsageMix.USERS, mib(first.bytes()), mib(second.bytes())),
                String.format(Locale.ROOT, "%,d / %,d", first.entries(), second.entries()), "entries", "after " + n,
                growth < 0 ? "n/a" : String.format(Locale.ROOT, "%.3f×", growth),
                "within 10 %: " + SuiteTable.met(growth >= 0.9 && growth <= 1.1), "", ""));
        table.add(new SuiteTable.Row("Aggregator dedupe window (recent events, every event of the last 48 h of event time"
                        + " here): local RocksDB bytes after each", mib(first.windowBytes()) + " / " + mib(second.windowBytes()),
                "MiB", "", "", "", "", ""));

        log("aggregator: restore after deleting its state directory");
        aggregator.close();
        deleteRecursively(config.stateDir());
        AggregatorService restored = new AggregatorService(config, Clock.systemUTC());
        long started = System.nanoTime();
        restored.start();
        while (restored.state() != org.apache.kafka.streams.KafkaStreams.State.RUNNING
                && System.nanoTime() - started < TimeUnit.MINUTES.toNanos(10)) {
            Thread.sleep(20);
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        table.add(new SuiteTable.Row(String.format(Locale.ROOT, "Aggregator local state restore after its state directory"
                        + " is deleted (from start() to RUNNING, %,d events counted)", 2 * n), number(seconds), "s", "", "",
                "≤ 30 s: " + SuiteTable.met(seconds <= 30), "", ""));
        return restored;
    }

    /** Entries of the non-window stores (read through interactive queries) and local bytes of the stores. */
    private record StateSize(long entries, long bytes, long windowBytes) {
        static StateSize of(AggregatorService aggregator, AggregatorConfig config) throws Exception {
            long entries = 0;
            for (String store : List.of(io.usagemeter.aggregator.AggregatorTopology.MONTHLY_SUMMARIES_STORE,
                    io.usagemeter.aggregator.AggregatorTopology.USAGE_RESETS_STORE)) {
                var view = aggregator.streams().store(org.apache.kafka.streams.StoreQueryParameters.fromNameAndType(store,
                        org.apache.kafka.streams.state.QueryableStoreTypes.<String, Object>keyValueStore()));
                try (var all = view.all()) {
                    while (all.hasNext()) {
                        all.next();
                        entries++;
                    }
                }
            }
            return new StateSize(entries,
                    bytesOf(config.stateDir(), io.usagemeter.aggregator.AggregatorTopology.MONTHLY_SUMMARIES_STORE)
                            + bytesOf(config.stateDir(), io.usagemeter.aggregator.AggregatorTopology.USAGE_RESETS_STORE),
                    bytesOf(config.stateDir(), io.usagemeter.aggregator.AggregatorTopology.RECENT_EVENTS_STORE));
        }

        private static long bytesOf(Path stateDir, String store) throws Exception {
            try (var files = Files.walk(stateDir)) {
                return files.filter(p -> p.toString().contains("/" + store + "/") && Files.isRegularFile(p))
                        .mapToLong(p -> p.toFile().length()).sum();
            }
        }
    }

    /** {@code count} new events of the mix (same users, same month) straight to the events topic, as ingest sends them. */
    private void produceEvents(String bootstrap, long count) {
        if (count <= 0) {
            return;
        }
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        String topic = Topics.USAGE_EVENTS.name();
        var values = Topics.USAGE_EVENTS.valueSerde().serializer();
        try (var producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            int first = nextCall.getAndAdd((int) count);
            for (int i = 0; i < count; i++) {
                UsageEvent e = mix.event(first + i);
                producer.send(new ProducerRecord<>(topic, null, e.occurredAt().toEpochMilli(),
                        e.userId().toString().getBytes(StandardCharsets.UTF_8), values.serialize(topic, e)));
            }
            producer.flush();
        }
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f", bytes / (1024.0 * 1024));
    }

    private static void deleteRecursively(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }

    private void pipeline(double httpRate, double aggregatorRate, double baselineRate, double ceiling) {
        double sustained = Math.min(httpRate, aggregatorRate);
        table.add(new SuiteTable.Row("Pipeline sustained = min(HTTP batch ingest, aggregator)", number(sustained), "events/s",
                "baseline", ratio(sustained, baselineRate), "≥ 5× baseline: " + SuiteTable.met(sustained >= 5 * baselineRate)
                        + "; stretch 10×: " + SuiteTable.met(sustained >= 10 * baselineRate),
                "", ""));
        table.add(new SuiteTable.Row("Pipeline sustained vs ceiling", number(sustained), "events/s", "ceiling",
                ratio(sustained, ceiling), "", "", ""));
    }

    private static boolean awaitCaughtUp(String bootstrap, String group, String topic, Duration timeout) throws Exception {
        log("waiting for " + group + " to catch up on " + topic);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                Map<TopicPartition, Long> end = endOffsets(admin, topic);
                Map<TopicPartition, Long> done = committed(admin, group, topic);
                if (end.entrySet().stream().allMatch(e -> done.getOrDefault(e.getKey(), 0L) >= e.getValue())) {
                    return true;
                }
                Thread.sleep(200);
            }
        }
        return false;
    }

    private static Map<TopicPartition, Long> endOffsets(Admin admin, String topic) throws Exception {
        var partitions = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions();
        Map<TopicPartition, OffsetSpec> request = new java.util.HashMap<>();
        for (var p : partitions) {
            request.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
        }
        Map<TopicPartition, Long> end = new java.util.HashMap<>();
        admin.listOffsets(request).all().get().forEach((tp, info) -> end.put(tp, info.offset()));
        return end;
    }

    private static Map<TopicPartition, Long> committed(Admin admin, String group, String topic) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> offsets =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        Map<TopicPartition, Long> result = new java.util.HashMap<>();
        offsets.forEach((tp, o) -> {
            if (o != null && tp.topic().equals(topic)) {
                result.put(tp, o.offset());
            }
        });
        return result;
    }

    private static long total(Collection<Long> values) {
        return values.stream().mapToLong(Long::longValue).sum();
    }

    // ---- the pipeline: limit checks

    /**
     * The server's capacity is measured with {@link LimitCheckLoad.Client#NIO} (one thread multiplexing the
     * keep-alive connections, a fifth of the server's CPU per check); the same load through
     * {@code java.net.http.HttpClient} follows for reference: in this one JVM on two cores that client costs more CPU
     * per check than the enforcer does.
     */
    private void httpChecks(URI limits, String apiKey, double baselineCheckP99, double lookupRate) throws Exception {
        log("pipeline: limit checks over HTTP, 64 concurrent");
        LimitCheckLoad.run(LimitCheckLoad.Client.NIO, limits, apiKey, CHECK_CONNECTIONS, 4, UsageMix.USERS, mix::user);
        cost.begin();
        var result = LimitCheckLoad.run(LimitCheckLoad.Client.NIO, limits, apiKey, CHECK_CONNECTIONS, sizes.checkSeconds(),
                UsageMix.USERS, mix::user);
        var c = cost.end();
        Histogram h = result.latency();
        double rate = result.rate();
        double p99 = h.getValueAtPercentile(99);
        table.add(new SuiteTable.Row("Limit checks over HTTP (GET /v1/limits, keep-alive, 64 connections, one-thread NIO client)",
                number(rate), "checks/s", "target 20,000/s", ratio(rate, 20_000),
                "≥ 20,000/s: " + SuiteTable.met(rate >= 20_000), cpu(c, h.getTotalCount()), rss(c)));
        table.add(new SuiteTable.Row("Limit checks over HTTP: p50 / p99 / p99.9",
                ms(h, 50) + " / " + ms(h, 99) + " / " + ms(h, 99.9), "ms", "p99 vs baseline SQL check alone p99",
                ratio(p99, baselineCheckP99), "p99 ≤ 5 ms: " + SuiteTable.met(p99 <= 5e6)
                        + "; ≤ baseline: " + SuiteTable.met(p99 <= baselineCheckP99), "", ""));
        table.add(new SuiteTable.Row("Limit checks over HTTP vs in-process lookups of this run; CPU per check, "
                + "enforcer side / load client", number(rate) + "; " + String.format(Locale.ROOT, "%.0f / %.0f µs",
                result.serverCpuMicrosPerCheck(), result.clientCpuMicrosPerCheck()), "checks/s; µs",
                "in-process lookups", ratio(rate, lookupRate), "", "", ""));
        LimitCheckLoad.run(LimitCheckLoad.Client.JDK, limits, apiKey, CHECK_CONNECTIONS, 2, UsageMix.USERS, mix::user);
        var jdk = LimitCheckLoad.run(LimitCheckLoad.Client.JDK, limits, apiKey, CHECK_CONNECTIONS, sizes.checkSeconds() / 2,
                UsageMix.USERS, mix::user);
        Histogram j = jdk.latency();
        table.add(new SuiteTable.Row("Limit checks, the same through java.net.http.HttpClient: rate; p50 / p99 / p99.9",
                number(jdk.rate()) + "; " + ms(j, 50) + " / " + ms(j, 99) + " / " + ms(j, 99.9), "checks/s; ms",
                "CPU µs per check: enforcer side / client",
                String.format(Locale.ROOT, "%.0f / %.0f", jdk.serverCpuMicrosPerCheck(), jdk.clientCpuMicrosPerCheck()),
                "", "", ""));
        if (result.failures() + jdk.failures() > 0) {
            table.note((result.failures() + jdk.failures()) + " limit checks were not answered 200.");
        }
    }

    /** Returns the lookup rate: the reference of the HTTP checks that follow. */
    private double storeLookups(EnforcerService enforcer, EnforcerConfig config) throws Exception {
        log("pipeline: in-process store lookups");
        URI self = config.advertisedUrl(enforcer.port());
        LimitQueries queries = new LimitQueries(enforcer.streams(), new HostInfo(self.getHost(), self.getPort()),
                BigDecimal.ZERO, Clock.systemUTC());
        int threads = 2;
        long until = System.nanoTime() + (long) (sizes.checkSeconds() / 2 * 1e9);
        AtomicInteger notLocal = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<Histogram>> results = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            results.add(pool.submit(() -> {
                Histogram latency = new Histogram(60_000_000_000L, 3);
                while (System.nanoTime() < until) {
                    UUID user = mix.user(ThreadLocalRandom.current().nextInt(UsageMix.USERS));
                    long t0 = System.nanoTime();
                    var outcome = queries.limit(user, false);
                    latency.recordValue(System.nanoTime() - t0);
                    if (!(outcome instanceof LimitQueries.Outcome.Local<?>)) {
                        notLocal.incrementAndGet();
                    }
                }
                return latency;
            }));
        }
        Histogram all = new Histogram(60_000_000_000L, 3);
        for (Future<Histogram> f : results) {
            all.add(f.get());
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        table.add(new SuiteTable.Row("Limit check as in-process store lookup (LimitQueries, 2 threads)",
                number(all.getTotalCount() / seconds), "lookups/s", "", "", "", "", ""));
        table.add(new SuiteTable.Row("In-process store lookup: p50 / p99 / p99.9",
                us(all, 50) + " / " + us(all, 99) + " / " + us(all, 99.9), "µs", "", "", "", "", ""));
        if (notLocal.get() > 0) {
            table.note(notLocal.get() + " in-process lookups were not answered locally.");
        }
        return all.getTotalCount() / seconds;
    }

    // ---- the pipeline: freshness

    private static final int FRESHNESS_POLL_MILLIS = 10;

    /**
     * Open loop: every {@code 1 / freshnessPerSecond} s one new user's event is posted, then its limit is
     * polled every {@value #FRESHNESS_POLL_MILLIS} ms until {@code used} counts it (as {@code bench/run-freshness}
     * does: the polls of 32 samplers at 5 ms were a load of their own on the enforcer); the latency runs from the intended send time, so a
     * stalled sampler cannot hide a slow pipeline (coordinated omission). A background load of single
     * batches runs meanwhile so the aggregator and enforcer are not idle.
     */
    private void freshness(HttpClient http, URI events, URI limits, String apiKey, int backgroundEventsPerSecond)
            throws Exception {
        log("pipeline: freshness ingest → limit check");
        int samples = (int) (sizes.freshnessSeconds() * sizes.freshnessPerSecond());
        long intervalNanos = 1_000_000_000L / sizes.freshnessPerSecond();
        Histogram latency = new Histogram(60_000_000_000L, 3);
        AtomicInteger lost = new AtomicInteger();
        ScheduledExecutorService background = Executors.newSingleThreadScheduledExecutor();
        int backgroundBatch = 100;
        long backgroundPeriodMicros = 1_000_000L * backgroundBatch / backgroundEventsPerSecond;
        AtomicLong backgroundSent = new AtomicLong();
        ExecutorService backgroundPosters = Executors.newFixedThreadPool(4);
        background.scheduleAtFixedRate(() -> backgroundPosters.submit(() -> {
            int first = nextCall.getAndAdd(backgroundBatch);
            List<UsageEvent> batch = new ArrayList<>(backgroundBatch);
            for (int i = 0; i < backgroundBatch; i++) {
                batch.add(mix.event(first + i));
            }
            try {
                if (post(http, events, apiKey, Json.write(batch)) == 202) {
                    backgroundSent.addAndGet(backgroundBatch);
                }
            } catch (Exception e) {
                // counted as not sent
            }
        }), 0, backgroundPeriodMicros, TimeUnit.MICROSECONDS);
        ExecutorService samplers = Executors.newFixedThreadPool(32);
        List<Future<?>> pending = new ArrayList<>();
        long start = System.nanoTime() + 500_000_000L;
        for (int s = 0; s < samples; s++) {
            long intended = start + s * intervalNanos;
            long wait = intended - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }
            int call = nextCall.getAndIncrement();
            pending.add(samplers.submit(() -> {
                UUID user = UUID.randomUUID();
                try {
                    if (post(http, events, apiKey, Json.write(mix.event(call, user, Instant.now()))) != 202) {
                        lost.incrementAndGet();
                        return;
                    }
                    HttpRequest check = HttpRequest.newBuilder(limits.resolve(user.toString()))
                            .header("Authorization", "Bearer " + apiKey).GET().build();
                    long giveUp = intended + TimeUnit.SECONDS.toNanos(30);
                    while (System.nanoTime() < giveUp) {
                        String body = http.send(check, HttpResponse.BodyHandlers.ofString()).body();
                        Matcher m = USED.matcher(body);
                        if (m.find() && Long.parseLong(m.group(1)) > 0) {
                            synchronized (latency) {
                                latency.recordValue(System.nanoTime() - intended);
                            }
                            return;
                        }
                        Thread.sleep(FRESHNESS_POLL_MILLIS);
                    }
                    lost.incrementAndGet();
                } catch (Exception e) {
                    lost.incrementAndGet();
                }
            }));
        }
        for (Future<?> f : pending) {
            f.get();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        background.shutdownNow();
        backgroundPosters.shutdown();
        backgroundPosters.awaitTermination(10, TimeUnit.SECONDS);
        samplers.shutdown();
        double p99 = latency.getValueAtPercentile(99);
        table.add(new SuiteTable.Row(String.format(Locale.ROOT,
                "Freshness ingest → limit check, p50 / p99 (%d samples open-loop at %d/s, background %s events/s offered)",
                latency.getTotalCount(), sizes.freshnessPerSecond(), number(backgroundEventsPerSecond)),
                ms(latency, 50) + " / " + ms(latency, 99), "ms", "target 1 s", ratio(p99, 1e9),
                "p99 ≤ 1 s: " + SuiteTable.met(p99 <= 1e9), "", ""));
        table.note(String.format(Locale.ROOT, "Freshness background load: %s events/s accepted of %s offered.",
                number(backgroundSent.get() / elapsed), number(backgroundEventsPerSecond)));
        if (lost.get() > 0) {
            table.note(lost.get() + " freshness samples were not seen within 30 s (not in the histogram).");
        }
    }

    // ---- other branches' benchmarks

    private void optionalBenches() throws Exception {
        for (OptionalBench bench : OPTIONAL) {
            try {
                Class.forName(bench.className(), false, BenchSuite.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                table.absent(bench.figure(), "not in this build");
                continue;
            }
            if (sizes.quick()) {
                table.absent(bench.figure(), "skipped with --quick (run it alone or the full suite)");
                continue;
            }
            log("other benchmark: " + bench.className());
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.add("-Xmx2g");
            command.addAll(bench.jvmArgs());
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(bench.mainClass());
            command.addAll(bench.args());
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            List<String> lines = new ArrayList<>();
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    System.out.println("  | " + line);
                    if (bench.resultLine().matcher(line.strip()).matches()) {
                        lines.add(line.strip().replace("|", "\\|"));
                    }
                }
            }
            boolean ok = process.waitFor(15, TimeUnit.MINUTES) && process.exitValue() == 0;
            table.absent(bench.figure(), ok ? (lines.isEmpty() ? "ran; no result line recognised" : String.join("<br>", lines))
                    : "failed (exit " + process.exitValue() + ")");
        }
    }

    // ---- helpers

    private int averageSize() {
        long total = 0;
        for (int i = 0; i < 1000; i++) {
            total += Json.write(mix.event(i)).length();
        }
        return (int) (total / 1000);
    }

    private static long postmasterPid(String url) {
        try (Connection c = DriverManager.getConnection(url, EmbeddedPostgresServer.SUPERUSER, "");
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW data_directory")) {
            rs.next();
            String first = Files.readAllLines(Path.of(rs.getString(1), "postmaster.pid")).get(0).strip();
            return Long.parseLong(first);
        } catch (Exception e) {
            return -1;
        }
    }

    private static String ms(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", h.getValueAtPercentile(percentile) / 1e6);
    }

    private static String us(Histogram h, double percentile) {
        return h.getTotalCount() == 0 ? "n/a" : String.format(Locale.ROOT, "%.1f", h.getValueAtPercentile(percentile) / 1e3);
    }

    private static String cpu(PhaseCost.Cost c, long events) {
        double v = c.cpuSecondsPerMillion(events);
        if (v < 0) {
            return "n/a";
        }
        return c.postgresCpuSeconds() > 0.05
                ? String.format(Locale.ROOT, "%.1f (PG %.1f)", v, c.postgresCpuSeconds() * 1e6 / events)
                : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String rss(PhaseCost.Cost c) {
        return c.peakRssBytes() < 0 ? "n/a" : String.format(Locale.ROOT, "%d MiB", c.peakRssBytes() / (1024 * 1024));
    }

    private static void log(String what) {
        System.out.printf(Locale.ROOT, "[%tT] %s%n", System.currentTimeMillis(), what);
    }
}
