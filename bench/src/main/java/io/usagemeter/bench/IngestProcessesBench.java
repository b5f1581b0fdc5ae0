package io.usagemeter.bench;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.flywaydb.core.Flyway;

/**
 * Issue 15's ingest targets with every part in a JVM of its own: this JVM holds the embedded broker and
 * PostgreSQL; the ingest service runs as {@code meter ingest} would ({@link IngestServerProcess}); the load runs in
 * a third JVM ({@link IngestLoadProcess}). In one run, on the same broker:
 * <ol>
 *   <li>the raw producer, pre-serialised usage events (the ceiling), with ingest's producer settings;</li>
 *   <li>the raw producer serialising each {@code UsageEvent} (built beforehand) with the topic serdes;</li>
 *   <li>HTTP batch ingest: closed-loop {@code POST /v1/events} of {@code -Dbatch} (500) events over
 *       {@code -Dconnections} (16) connections.</li>
 * </ol>
 * CPU per event is measured per JVM over each measured window: the producer's or the service's JVM (the figure the
 * targets compare), the load generator's, and the broker's. Prints a Markdown table and writes it to
 * {@code bench/results/<date>-ingest-processes[-<label>].md}.
 *
 * <pre>
 * bench/run-ingest-processes -Devents=1000000 -Dseconds=20 -Dwarmup=10 -Dconnections=16 -Dlabel=before
 * </pre>
 * {@code BENCH_INGEST_JAVA_OPTS} adds JVM options to the service's JVM (e.g. a JFR recording);
 * {@code -DserviceClasspath=…} runs the service from another build (e.g. the commit before a change).
 */
public final class IngestProcessesBench {

    private IngestProcessesBench() {
    }

    /** One measured phase: events/s, CPU µs per event of the measured JVM (producer or service), load JVM and broker JVM. */
    record Phase(double rate, long events, int failures, double p50Micros, double p99Micros, double cpuMicros,
                 double loadCpuMicros, double brokerCpuMicros, Batches batches) {
    }

    /** The producer's average batch (compressed bytes) and records per produce request, as it reports them. */
    record Batches(double bytes, double recordsPerRequest) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%,.0f B, %.0f records", bytes, recordsPerRequest);
        }
    }

    public static void main(String[] args) throws Exception {
        int events = Integer.getInteger("events", 1_000_000);
        double seconds = Double.parseDouble(System.getProperty("seconds", "20"));
        double warmup = Double.parseDouble(System.getProperty("warmup", "10"));
        int connections = Integer.getInteger("connections", 16);
        int batch = Integer.getInteger("batch", 500);
        String label = System.getProperty("label", "");
        String serviceOpts = System.getenv().getOrDefault("BENCH_INGEST_JAVA_OPTS", "");
        // Another build of the service (e.g. the commit before a change) measured by this same harness.
        String serviceClasspath = System.getProperty("serviceClasspath", System.getProperty("java.class.path"));
        SuiteTable table = new SuiteTable();
        long started = System.nanoTime();
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start();
             EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start()) {
            String dbUrl = postgres.createDatabase("meter");
            Flyway.configure().dataSource(dbUrl, EmbeddedPostgresServer.SUPERUSER, "")
                    .locations("classpath:db/migration").load().migrate();
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            }
            var dataSource = new org.postgresql.ds.PGSimpleDataSource();
            dataSource.setUrl(dbUrl);
            dataSource.setUser(EmbeddedPostgresServer.SUPERUSER);
            String apiKey = new ApiKeyStore(dataSource, Clock.systemUTC())
                    .issue("ingest-bench", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
            System.out.printf(Locale.ROOT, "ingest, every part in its own JVM: %d cores, JDK %s; raw producer %,d events;"
                            + " HTTP %d events/request, %d connections, %.0f s after %.0f s warm-up%n",
                    Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), events, batch,
                    connections, seconds, warmup);

            log("raw producer, pre-serialised");
            Phase raw = run(List.of("raw-bytes", kafka.bootstrapServers(), Integer.toString(events)), Map.of(), null);
            log("raw producer, UsageEvent + topic serde");
            Phase serde = run(List.of("raw-serde", kafka.bootstrapServers(), Integer.toString(events)), Map.of(), null);

            log("HTTP batch ingest, service in its own JVM");
            List<String> service = new ArrayList<>(List.of(java(), "-Xmx1g"));
            if (!serviceOpts.isBlank()) {
                service.addAll(List.of(serviceOpts.strip().split("\\s+")));
            }
            service.addAll(List.of("-cp", serviceClasspath, IngestServerProcess.class.getName(),
                    kafka.bootstrapServers(), dbUrl, EmbeddedPostgresServer.SUPERUSER));
            Process ingest = new ProcessBuilder(service).redirectErrorStream(true).start();
            Phase http;
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(ingest.getInputStream(), StandardCharsets.UTF_8));
                int port = -1;
                String line;
                while (port < 0 && (line = out.readLine()) != null) {
                    if (line.startsWith("port ")) {
                        port = Integer.parseInt(line.substring(5).strip());
                    }
                }
                if (port < 0) {
                    throw new IllegalStateException("the ingest process did not start");
                }
                Thread drain = new Thread(() -> out.lines().forEach(l -> { }), "ingest-output");
                drain.setDaemon(true);
                drain.start();
                String base = "http://localhost:" + port;
                http = run(List.of("http", base + "/v1/events", Double.toString(seconds),
                        Double.toString(warmup), Integer.toString(connections), Integer.toString(batch)),
                        Map.of("BENCH_API_KEY", apiKey), ingest.toHandle());
                http = new Phase(http.rate(), http.events(), http.failures(), http.p50Micros(), http.p99Micros(),
                        http.cpuMicros(), http.loadCpuMicros(), http.brokerCpuMicros(), scrapeBatches(base + "/metrics"));
            } finally {
                ingest.getOutputStream().close();
                if (!ingest.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                    ingest.destroy();
                }
            }

            table.add(new SuiteTable.Row("Raw producer, pre-serialised bytes (own JVM, ingest's producer settings)",
                    SuiteTable.number(raw.rate()), "events/s", "", "", "", cpu(raw.cpuMicros()), ""));
            table.add(new SuiteTable.Row("Raw producer + serde (UsageEvents built beforehand, each serialised with the topic "
                    + "serdes, own JVM)",
                    SuiteTable.number(serde.rate()), "events/s", "raw producer", SuiteTable.ratio(serde.rate(), raw.rate()),
                    "", cpu(serde.cpuMicros()), ""));
            table.add(new SuiteTable.Row("HTTP batch ingest vs raw producer (pre-serialised); " + batch + " events/request, "
                            + connections + " connections, service and load in JVMs of their own",
                    SuiteTable.number(http.rate()), "events/s", "raw producer " + SuiteTable.number(raw.rate()),
                    SuiteTable.ratio(http.rate(), raw.rate()),
                    "≥ 0.5× " + SuiteTable.met(http.rate() >= 0.5 * raw.rate()) + "; stretch 0.7× "
                            + SuiteTable.met(http.rate() >= 0.7 * raw.rate()), cpu(http.cpuMicros()), ""));
            table.add(new SuiteTable.Row("Ingest CPU per event vs raw producer + serde (service JVM / producer JVM)",
                    String.format(Locale.ROOT, "%.2f", http.cpuMicros()), "µs",
                    String.format(Locale.ROOT, "raw + serde %.2f µs", serde.cpuMicros()),
                    SuiteTable.ratio(http.cpuMicros(), serde.cpuMicros()),
                    "≤ 3× " + SuiteTable.met(http.cpuMicros() <= 3 * serde.cpuMicros()) + "; stretch 2× "
                            + SuiteTable.met(http.cpuMicros() <= 2 * serde.cpuMicros()), "", ""));
            table.add(new SuiteTable.Row("HTTP batch ingest: request latency p50 / p99", ms(http.p50Micros()) + " / "
                    + ms(http.p99Micros()), "ms", "", "", "", "", ""));
            table.add(new SuiteTable.Row("CPU per event in the other JVMs: load generator (HTTP) / broker during raw, "
                            + "raw + serde, HTTP", String.format(Locale.ROOT, "%.2f / %.2f, %.2f, %.2f", http.loadCpuMicros(),
                    raw.brokerCpuMicros(), serde.brokerCpuMicros(), http.brokerCpuMicros()), "µs", "", "", "", "", ""));
            table.add(new SuiteTable.Row("Producer batches, average size and records per produce request: raw, raw + serde, "
                    + "ingest", raw.batches() + "; " + serde.batches() + "; " + http.batches(), "", "", "", "", "", ""));
            int failures = raw.failures() + serde.failures() + http.failures();
            if (failures > 0) {
                table.note(failures + " sends or requests failed (requests not answered 202 are not counted as events).");
            }
            table.note(String.format(Locale.ROOT, "Load average (1 min) at the end: %.2f; %s in all.",
                    ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                    Duration.ofNanos(System.nanoTime() - started).toSeconds() + " s"));
        }
        String md = table.markdown("Ingest, every part in its own JVM" + (label.isEmpty() ? "" : " (" + label + ")"),
                String.format(Locale.ROOT, "%d cores, JDK %s; raw producer %,d events after %,d of warm-up; HTTP %d events "
                                + "per request, %d connections, %.0f s after %.0f s of warm-up. The CPU column is the "
                                + "measured JVM's (producer's or service's) CPU-seconds per million events.",
                        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), events, events / 5,
                        batch, connections, seconds, warmup));
        System.out.println(md);
        Path results = Path.of(System.getProperty("results", "bench/results"));
        Files.createDirectories(results);
        Files.writeString(results.resolve(LocalDate.now() + "-ingest-processes" + (label.isEmpty() ? "" : "-" + label)
                + ".md"), md);
        System.exit(0);
    }

    /**
     * Runs {@link IngestLoadProcess} with {@code args}; the CPU of {@code measured} (the service's JVM, or the load
     * process itself when {@code null}) and of this JVM (the broker) over its measured window.
     */
    private static Phase run(List<String> args, Map<String, String> env, ProcessHandle measured) throws Exception {
        List<String> command = new ArrayList<>(List.of(java(), "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                IngestLoadProcess.class.getName()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process process = pb.start();
        long serviceFrom = 0;
        long serviceTo = 0;
        long brokerFrom = 0;
        long brokerTo = 0;
        Map<String, String> result = new HashMap<>();
        Batches batches = new Batches(Double.NaN, Double.NaN);
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.equals("measuring")) {
                    serviceFrom = cpuNanos(measured);
                    brokerFrom = processCpuNanos();
                } else if (line.startsWith("result ")) {
                    serviceTo = cpuNanos(measured);
                    brokerTo = processCpuNanos();
                    for (String kv : line.substring(7).split(" ")) {
                        String[] p = kv.split("=", 2);
                        result.put(p[0], p[1]);
                    }
                } else if (line.startsWith("producer ")) {
                    Map<String, String> p = new HashMap<>();
                    for (String kv : line.substring(9).split(" ")) {
                        String[] pair = kv.split("=", 2);
                        p.put(pair[0], pair[1]);
                    }
                    batches = new Batches(Double.parseDouble(p.get("batch_bytes")),
                            Double.parseDouble(p.get("records_per_request")));
                } else if (!line.contains(" INFO ") && !line.contains(" WARN ")) {
                    System.out.println("  load: " + line);
                }
            }
        }
        if (process.waitFor() != 0 || result.isEmpty()) {
            throw new IllegalStateException("the load process failed (exit " + process.exitValue() + ")");
        }
        long count = Math.max(1, Long.parseLong(result.get("count")));
        double loadCpu = Double.parseDouble(result.get("cpu_us"));
        Phase phase = new Phase(Double.parseDouble(result.get("rate")), count, Integer.parseInt(result.get("failures")),
                Double.parseDouble(result.get("p50")), Double.parseDouble(result.get("p99")),
                measured == null ? loadCpu : (serviceTo - serviceFrom) / 1e3 / count, loadCpu,
                (brokerTo - brokerFrom) / 1e3 / count, batches);
        System.out.printf(Locale.ROOT, "  %s: %,.0f events/s, CPU µs/event %.2f (load JVM %.2f, broker %.2f), p50/p99 %s / %s ms,"
                        + " failures %d%n", args.get(0), phase.rate(), phase.cpuMicros(), phase.loadCpuMicros(),
                phase.brokerCpuMicros(), ms(phase.p50Micros()), ms(phase.p99Micros()), phase.failures());
        return phase;
    }

    /** The service producer's batches, from its Prometheus text (Kafka's metrics through {@code KafkaClientMetrics}). */
    private static Batches scrapeBatches(String url) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String text = http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString()).body();
        return new Batches(prometheusValue(text, "kafka_producer_batch_size_avg"),
                prometheusValue(text, "kafka_producer_records_per_request_avg"));
    }

    private static double prometheusValue(String text, String name) {
        for (String line : text.split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return Double.NaN;
    }

    private static long cpuNanos(ProcessHandle process) {
        if (process == null) {
            return 0;
        }
        return process.info().totalCpuDuration().map(Duration::toNanos)
                .orElseThrow(() -> new IllegalStateException("no CPU time for process " + process.pid()));
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static String cpu(double micros) {
        return String.format(Locale.ROOT, "%.1f", micros);
    }

    private static String ms(double micros) {
        return String.format(Locale.ROOT, "%.2f", micros / 1e3);
    }

    private static void log(String what) {
        System.out.println("== " + what);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
