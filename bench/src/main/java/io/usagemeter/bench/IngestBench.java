package io.usagemeter.bench;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
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
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.flywaydb.core.Flyway;

/**
 * Ingest throughput on one embedded broker, in one run:
 * <ol>
 *   <li>raw {@link KafkaProducer} of pre-serialised ~300-byte events (the ceiling), and the same
 *       producer serialising {@link UsageEvent}s with the topic serde;</li>
 *   <li>HTTP batches of 500 events over 8 and 32 concurrent connections;</li>
 *   <li>single-event HTTP requests over 32 connections;</li>
 *   <li>{@link UsageClient}'s Kafka transport.</li>
 * </ol>
 * Everything shares the machine (broker, service and load in one JVM), as in {@code meter dev}.
 * Sizes: {@code -Devents=1000000 -DsingleRequests=40000 -Dconnections=8,32}.
 */
public final class IngestBench {

    private static final int USERS = SampleEvents.USERS;
    private static final int BATCH = 500;

    private final EmbeddedKafkaBroker kafka;
    private final Instant base = Instant.now().minusSeconds(600);
    private final SampleEvents sample = new SampleEvents(UUID.randomUUID().toString().substring(0, 8), base);

    private IngestBench(EmbeddedKafkaBroker kafka) {
        this.kafka = kafka;
    }

    public static void main(String[] args) throws Exception {
        int events = Integer.getInteger("events", 1_000_000);
        int singleRequests = Integer.getInteger("singleRequests", 40_000);
        List<Integer> connections = new ArrayList<>();
        for (String c : System.getProperty("connections", "8,32").split(",")) {
            connections.add(Integer.parseInt(c.strip()));
        }
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start();
             EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start()) {
            String dbUrl = postgres.createDatabase("meter");
            Flyway.configure().dataSource(dbUrl, EmbeddedPostgresServer.SUPERUSER, "")
                    .locations("classpath:db/migration").load().migrate();
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            }
            var dataSource = new org.postgresql.ds.PGSimpleDataSource();
            dataSource.setUrl(dbUrl);
            dataSource.setUser(EmbeddedPostgresServer.SUPERUSER);
            String apiKey = new ApiKeyStore(dataSource, Clock.systemUTC())
                    .issue("bench", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
            IngestConfig config = IngestConfig.defaults(kafka.bootstrapServers(), dbUrl, EmbeddedPostgresServer.SUPERUSER, "")
                    .withPort(0);
            try (IngestService service = IngestService.create(config).start()) {
                new IngestBench(kafka).runAll(events, singleRequests, connections,
                        URI.create("http://localhost:" + service.port() + "/v1/events"), apiKey);
            }
        }
    }

    private void runAll(int events, int singleRequests, List<Integer> connections, URI uri, String apiKey) throws Exception {
        System.out.printf(Locale.ROOT, "usage event JSON: %d bytes on average; %d events per measured run, %d users%n",
                averageSize(), events, USERS);
        rawProducerBytes(events / 5, "warm-up");
        Run ceiling = rawProducerBytes(events, "raw KafkaProducer, pre-serialised bytes (ceiling)");
        // Warmed up like every other path, or its figures would carry the JIT compiling the serde.
        rawProducerSerde(events / 5, null);
        Run rawSerde = rawProducerSerde(events, "raw KafkaProducer, UsageEvent + topic serde");
        for (int c : connections) {
            httpBatches(events / 5, c, uri, apiKey, null, null);
            httpBatches(events, c, uri, apiKey, "HTTP batches of " + BATCH + ", " + c + " connections", new Ceilings(ceiling, rawSerde));
        }
        int c = connections.get(connections.size() - 1);
        httpSingles(singleRequests / 5, c, uri, apiKey, null, null);
        httpSingles(singleRequests, c, uri, apiKey, "HTTP single-event requests, " + c + " connections", new Ceilings(ceiling, rawSerde));
        usageClientKafka(events / 5, null, null);
        usageClientKafka(events, "UsageClient, Kafka transport", new Ceilings(ceiling, rawSerde));
    }

    private UsageEvent event(int i) {
        return sample.event(i);
    }

    private int averageSize() {
        long total = 0;
        for (int i = 0; i < 1000; i++) {
            total += Json.write(event(i)).length();
        }
        return (int) (total / 1000);
    }

    private Properties producerProperties() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        return p;
    }

    private Run rawProducerBytes(int count, String label) {
        byte[][] values = new byte[1000][];
        for (int i = 0; i < values.length; i++) {
            values[i] = Json.write(event(i)).getBytes(StandardCharsets.UTF_8);
        }
        byte[][] keys = new byte[USERS][];
        for (int i = 0; i < USERS; i++) {
            keys[i] = sample.user(i).toString().getBytes(StandardCharsets.UTF_8);
        }
        try (var producer = new KafkaProducer<>(producerProperties(), new ByteArraySerializer(), new ByteArraySerializer())) {
            Stopwatch start = Stopwatch.start();
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, base.toEpochMilli() + i % 500_000,
                        keys[i % USERS], values[i % values.length]));
            }
            producer.flush();
            return report(label, count, start.stop(), null, null);
        }
    }

    private Run rawProducerSerde(int count, String label) {
        var topic = Topics.USAGE_EVENTS;
        try (var producer = new KafkaProducer<>(producerProperties(), topic.keySerde().serializer(), topic.valueSerde().serializer())) {
            Stopwatch start = Stopwatch.start();
            for (int i = 0; i < count; i++) {
                UsageEvent e = event(i);
                producer.send(new ProducerRecord<>(topic.name(), null, e.occurredAt().toEpochMilli(), e.userId().toString(), e));
            }
            producer.flush();
            return label == null ? null : report(label, count, start.stop(), null, null);
        }
    }

    private void httpBatches(int count, int connections, URI uri, String apiKey, String label, Ceilings ceilings) throws Exception {
        int requests = count / BATCH;
        List<String> bodies = new ArrayList<>();
        for (int b = 0; b < 50; b++) {
            List<UsageEvent> batch = new ArrayList<>(BATCH);
            for (int i = 0; i < BATCH; i++) {
                batch.add(event(b * BATCH + i));
            }
            bodies.add(Json.write(batch));
        }
        load(requests, connections, uri, apiKey, bodies, label, requests * BATCH, ceilings);
    }

    private void httpSingles(int requests, int connections, URI uri, String apiKey, String label, Ceilings ceilings) throws Exception {
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            bodies.add(Json.write(event(i)));
        }
        load(requests, connections, uri, apiKey, bodies, label, requests, ceilings);
    }

    /** {@code requests} POSTs spread over {@code connections} threads, each with its own latency histogram. */
    private void load(int requests, int connections, URI uri, String apiKey, List<String> bodies, String label,
                      int events, Ceilings ceilings) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(connections);
        Stopwatch start = Stopwatch.start();
        List<Future<Histogram>> results = new ArrayList<>();
        for (int t = 0; t < connections; t++) {
            results.add(pool.submit(() -> {
                Histogram latency = new Histogram(60_000_000_000L, 3);
                int i;
                while ((i = next.getAndIncrement()) < requests) {
                    HttpRequest request = HttpRequest.newBuilder(uri)
                            .header("Content-Type", "application/json")
                            .header("Authorization", "Bearer " + apiKey)
                            .POST(HttpRequest.BodyPublishers.ofString(bodies.get(i % bodies.size())))
                            .build();
                    long sent = System.nanoTime();
                    HttpResponse<Void> response = http.send(request, HttpResponse.BodyHandlers.discarding());
                    latency.recordValue(System.nanoTime() - sent);
                    if (response.statusCode() != 202) {
                        failures.incrementAndGet();
                    }
                }
                return latency;
            }));
        }
        Histogram all = new Histogram(60_000_000_000L, 3);
        for (Future<Histogram> r : results) {
            all.add(r.get());
        }
        Stopwatch elapsed = start.stop();
        pool.shutdown();
        if (failures.get() > 0) {
            System.out.printf(Locale.ROOT, "  %d requests were not answered 202%n", failures.get());
        }
        if (label != null) {
            report(label, events, elapsed, ceilings, all);
        }
    }

    private void usageClientKafka(int count, String label, Ceilings ceilings) {
        try (UsageClient client = UsageClient.toKafka(kafka.bootstrapServers()).maxPendingEvents(200_000).build()) {
            Stopwatch start = Stopwatch.start();
            for (int i = 0; i < count; i++) {
                client.emit(event(i));
            }
            client.flush();
            Stopwatch elapsed = start.stop();
            if (label != null) {
                report(label, count, elapsed, ceilings, null);
            }
        }
    }

    /**
     * The two raw-producer rates of the same run a path is compared with: pre-serialised bytes (the
     * broker's ceiling) and serialising {@code UsageEvent}s with the topic serde on the sending
     * thread (the same work ingest and the client must do, minus HTTP and validation).
     */
    private record Ceilings(Run rawBytes, Run rawSerde) {}

    /** One measured path: its rate, and the whole JVM's CPU time per event (broker, service and load included). */
    private record Run(double eventsPerSecond, double cpuMicrosPerEvent) {}

    /**
     * Wall time and the process's CPU time. Other processes on a shared machine slow the wall
     * clock of one phase and not another; CPU per event moves far less, so the bench reports both,
     * and the CPU ratio is what the rate ratio would be on a machine of our own.
     */
    private record Stopwatch(long wallNanos, long cpuNanos) {
        private static final com.sun.management.OperatingSystemMXBean OS =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

        static Stopwatch start() {
            return new Stopwatch(System.nanoTime(), OS.getProcessCpuTime());
        }

        /** The time elapsed since this start. */
        Stopwatch stop() {
            return new Stopwatch(System.nanoTime() - wallNanos, OS.getProcessCpuTime() - cpuNanos);
        }
    }

    private static Run report(String label, int events, Stopwatch elapsed, Ceilings ceilings, Histogram latency) {
        double rate = events / (elapsed.wallNanos() / 1e9);
        double cpu = elapsed.cpuNanos() / 1e3 / events;
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-52s %,9.0f events/s  cpu %5.2f µs/event",
                label, rate, cpu));
        if (ceilings != null) {
            line.append(String.format(Locale.ROOT, "  rate %5.1f %% of raw bytes, %5.1f %% of raw+serde;"
                            + " cpu-efficiency %5.1f %% / %5.1f %%",
                    100 * rate / ceilings.rawBytes().eventsPerSecond(), 100 * rate / ceilings.rawSerde().eventsPerSecond(),
                    100 * ceilings.rawBytes().cpuMicrosPerEvent() / cpu, 100 * ceilings.rawSerde().cpuMicrosPerEvent() / cpu));
        }
        if (latency != null) {
            line.append(String.format(Locale.ROOT, "  request p50 %.2f ms, p99 %.2f ms",
                    latency.getValueAtPercentile(50) / 1e6, latency.getValueAtPercentile(99) / 1e6));
        }
        System.out.println(line);
        return new Run(rate, cpu);
    }
}
