package io.usagemeter.bench;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.flywaydb.core.Flyway;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/**
 * The limit-check targets of issue 15 with every part in a process of its own: this JVM holds the embedded broker
 * (idle once the usage is published) and starts the embedded PostgreSQL (a native process of its own); the enforcer
 * runs alone in its JVM as {@code meter enforcer} would ({@link LimitCheckServerProcess}), its store holding this
 * month's usage of {@value UsageMix#USERS} users; each load runs in a JVM of its own ({@link HttpLoadProcess}). In
 * one run:
 * <ol>
 *   <li>the older design's SQL check alone ({@link LegacyBaseline}, 32 connections, from this JVM: JDBC, no HTTP);</li>
 *   <li>{@code GET /v1/limits/{user}} with a {@code limits:read} key, closed loop, the maximum rate;</li>
 *   <li>{@code GET /health/live} of the same server, closed loop (the trivial route);</li>
 *   <li>{@code GET /v1/limits/{user}} open loop at half that maximum, latency from when each request was due;</li>
 *   <li>{@code GET /health/live} open loop at the same offered rate (the trivial route's tail at the same load).</li>
 * </ol>
 * Before the HTTP figures, both routes are loaded unmeasured for {@code -DjitWarmup} seconds each (default 10), so
 * that the JIT has compiled the HTTP path before either route is measured. The server's collections (count and
 * accumulated time per collector) are read before and after each half-rate phase. Prints a Markdown table and
 * writes it to {@code bench/results/<date>-limit-checks-processes[-<label>].md}.
 *
 * <pre>
 * bench/run-limit-checks-processes -Dseconds=10 -Dwarmup=6 -Dconnections=64 -DjitWarmup=10
 * </pre>
 * {@code BENCH_SERVER_JAVA_OPTS} adds JVM options to the server's JVM (none by default: {@code meter} sets none);
 * {@code -Djfr=FILE} records the server with JFR's {@code profile} settings from its start and dumps the
 * recording's chunks that cover the limit route's half-rate phase to FILE; {@code -DhalfWarmup} (2 s) is the
 * half-rate phases' unmeasured start; {@code -Dtimeline=FILE} writes that phase's worst latency per 100 ms of due
 * time (the load JVM's
 * wall clock, epoch ms) to line up with the recording.
 */
public final class LimitCheckProcessesBench {

    private static final String JFR_RECORDING = "limit-checks";

    private LimitCheckProcessesBench() {
    }

    record Load(double rate, double p50Micros, double p99Micros, double p999Micros, int failures,
                double clientCpuMicros, double serverCpuMicros, double clientGcMillis, double serverRunQueueMillis,
                double clientRunQueueMillis) {
    }

    public static void main(String[] args) throws Exception {
        double seconds = Double.parseDouble(System.getProperty("seconds", "10"));
        double warmup = Double.parseDouble(System.getProperty("warmup", "6"));
        int connections = Integer.getInteger("connections", 64);
        double jitWarmup = Double.parseDouble(System.getProperty("jitWarmup", "10"));
        double halfWarmup = Double.parseDouble(System.getProperty("halfWarmup", "2"));
        String label = System.getProperty("label", "");
        String jfr = System.getProperty("jfr", "");
        String timeline = System.getProperty("timeline", "");
        String serverOpts = System.getenv().getOrDefault("BENCH_SERVER_JAVA_OPTS", "");
        UsageMix mix = new UsageMix();
        Path stateDir = Files.createTempDirectory("limit-check-processes");
        SuiteTable table = new SuiteTable();
        long started = System.nanoTime();
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start();
             EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start()) {
            String meterDb = postgres.createDatabase("meter");
            String baselineDb = postgres.createDatabase("legacy_baseline");
            Flyway.configure().dataSource(meterDb, EmbeddedPostgresServer.SUPERUSER, "")
                    .locations("classpath:db/migration").load().migrate();
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            }
            LimitCheckBench.publishUsage(kafka.bootstrapServers(), mix);
            LegacyBaseline legacy = new LegacyBaseline(baselineDb, EmbeddedPostgresServer.SUPERUSER, mix);
            legacy.prepare();
            String apiKey = new ApiKeyStore(DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES),
                    Clock.systemUTC()).issue("limit-check-bench", List.of(ApiKeyScopes.LIMITS_READ)).secret();
            System.out.printf(Locale.ROOT, "limit checks, server, broker and load in processes of their own: %,d users, "
                    + "%d connections, %.0f s per figure after %.0f s warm-up, %d cores, JDK %s, server JVM options [%s]%n",
                    UsageMix.USERS, connections, seconds, warmup, Runtime.getRuntime().availableProcessors(),
                    System.getProperty("java.version"), serverOpts.strip());

            log("older design: SQL check alone, 32 connections");
            var sql = legacy.writeLoad(0, 2, seconds, false);
            double sqlRate = sql.callsPerSecond();
            double sqlP99 = sql.checkLatency().getValueAtPercentile(99) / 1e3;

            log("enforcer in its own JVM");
            // Started with the JVM, not over jcmd: a recording started late instruments the JDK's socket classes
            // and the JIT recompiles the whole I/O path in the middle of the phase it was meant to observe.
            String recording = jfr.isEmpty() ? "" : " -XX:StartFlightRecording=name=" + JFR_RECORDING + ",settings=profile";
            try (Server server = Server.start(serverOpts + recording, kafka.bootstrapServers(), meterDb, stateDir)) {
                String base = "http://localhost:" + server.port;
                ProcessHandle measured = server.process.toHandle();
                log(String.format(Locale.ROOT, "JIT warm-up: both routes, closed loop, %.0f s each, not measured", jitWarmup));
                load(apiKey, "closed", base + "/v1/limits/", jitWarmup, 0, connections, 0, measured, "");
                load(apiKey, "closed", base + "/health/live", jitWarmup, 0, connections, 0, measured, "");

                log("GET /v1/limits, closed loop");
                Load limits = load(apiKey, "closed", base + "/v1/limits/", seconds, warmup, connections, 0, measured, "");
                log("GET /health/live, closed loop");
                Load trivial = load(apiKey, "closed", base + "/health/live", seconds, warmup, connections, 0, measured, "");
                double halfRate = limits.rate() / 2;
                log("GET /v1/limits, open loop at half rate" + (jfr.isEmpty() ? "" : ", JFR recording to " + jfr));
                Map<String, long[]> gcBefore = server.gc();
                Instant halfFrom = Instant.now();
                Load half = load(apiKey, "open", base + "/v1/limits/", seconds, halfWarmup, connections, halfRate, measured,
                        timeline);
                if (!jfr.isEmpty()) {
                    jcmd(server.process.pid(), "JFR.dump", "name=" + JFR_RECORDING, "filename=" + jfr,
                            "begin=" + halfFrom, "end=" + Instant.now());
                }
                String halfGc = gcDelta(gcBefore, server.gc());
                log("GET /health/live, open loop at the same offered rate");
                gcBefore = server.gc();
                Load trivialHalf = load(apiKey, "open", base + "/health/live", seconds, halfWarmup, connections, halfRate,
                        measured, "");
                String trivialHalfGc = gcDelta(gcBefore, server.gc());

                table.add(new SuiteTable.Row("Limit checks over HTTP (separate processes): GET /v1/limits, limits:read key, "
                        + connections + " connections, closed loop", SuiteTable.number(limits.rate()), "checks/s",
                        "", "", "≥ 20,000 (stretch 25,000): " + SuiteTable.met(limits.rate() >= 20_000), "", ""));
                table.add(new SuiteTable.Row("Limit checks over HTTP: p50 / p99 / p99.9 at the maximum rate",
                        ms(limits.p50Micros()) + " / " + ms(limits.p99Micros()) + " / " + ms(limits.p999Micros()),
                        "ms", "", "", "", "", ""));
                table.add(new SuiteTable.Row("Trivial route, same server (GET /health/live, closed loop)",
                        SuiteTable.number(trivial.rate()), "requests/s", "limit checks",
                        SuiteTable.ratio(limits.rate(), trivial.rate()),
                        "limit checks ≥ 0.7× (stretch 0.85×): " + SuiteTable.met(limits.rate() >= 0.7 * trivial.rate()),
                        "", ""));
                table.add(new SuiteTable.Row(String.format(Locale.ROOT, "Limit checks p99 at half rate (open loop, %,.0f/s "
                                + "offered, coordinated omission corrected); p50 / p99.9 %s / %s ms", halfRate,
                                ms(half.p50Micros()), ms(half.p999Micros())), ms(half.p99Micros()), "ms", "", "",
                        "≤ 5 (stretch 2): " + SuiteTable.met(half.p99Micros() <= 5_000), "", ""));
                table.add(new SuiteTable.Row("Trivial route at the same offered rate (open loop): p50 / p99 / p99.9",
                        ms(trivialHalf.p50Micros()) + " / " + ms(trivialHalf.p99Micros()) + " / "
                                + ms(trivialHalf.p999Micros()), "ms", "limit checks / trivial: p50 / p99 / p99.9",
                        SuiteTable.ratio(half.p50Micros(), trivialHalf.p50Micros()) + " / "
                                + SuiteTable.ratio(half.p99Micros(), trivialHalf.p99Micros()) + " / "
                                + SuiteTable.ratio(half.p999Micros(), trivialHalf.p999Micros()), "", "", ""));
                table.add(new SuiteTable.Row("Run-queue wait in the half-rate phases' measured windows (threads runnable, "
                        + "no core free; /proc schedstat), server JVM's threads summed / load JVM's sending thread: "
                        + "limit checks; trivial route",
                        String.format(Locale.ROOT, "%.0f / %.0f; %.0f / %.0f", half.serverRunQueueMillis(),
                                half.clientRunQueueMillis(), trivialHalf.serverRunQueueMillis(),
                                trivialHalf.clientRunQueueMillis()), "ms", "", "", "", "", ""));
                table.add(new SuiteTable.Row("Server GC during the half-rate phases (collector: collections / accumulated "
                        + "ms): limit checks; trivial route", halfGc + "; " + trivialHalfGc, "", "", "", "", "", ""));
                table.add(new SuiteTable.Row("Limit checks vs the older design's SQL check alone (32 JDBC connections, "
                                + "from the bench JVM): rate; p99", SuiteTable.number(sqlRate) + "; " + ms(sqlP99), "checks/s; ms",
                        "HTTP limit checks / SQL", SuiteTable.ratio(limits.rate(), sqlRate) + "; p99 "
                                + ms(limits.p99Micros()) + " vs " + ms(sqlP99),
                        "faster on both (stretch 2× the rate): " + SuiteTable.met(limits.rate() > sqlRate
                                && limits.p99Micros() < sqlP99), "", ""));
                table.add(new SuiteTable.Row("CPU per request, server JVM / load JVM: limit checks; trivial route",
                        String.format(Locale.ROOT, "%.0f / %.0f; %.0f / %.0f", limits.serverCpuMicros(),
                                limits.clientCpuMicros(), trivial.serverCpuMicros(), trivial.clientCpuMicros()),
                        "µs", "", "", "", "", ""));
                int failures = limits.failures() + trivial.failures() + half.failures() + trivialHalf.failures()
                        + sql.failures();
                if (failures > 0) {
                    table.note(failures + " requests were not answered 200 (or SQL checks failed).");
                }
                table.note(String.format(Locale.ROOT, "Server JVM options: [%s]%s. Load JVM GC in the half-rate phases: "
                                + "%.0f ms (limit checks), %.0f ms (trivial).", serverOpts.strip(),
                        jfr.isEmpty() ? "" : "; JFR (profile settings) recording throughout, dumped for the limit route's half-rate phase",
                        half.clientGcMillis(), trivialHalf.clientGcMillis()));
                table.note(String.format(Locale.ROOT, "Load average (1 min) at the end: %.2f; %d s in all.",
                        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                        Duration.ofNanos(System.nanoTime() - started).toSeconds()));
            }
        }
        String md = table.markdown("Limit checks, server, broker and load in processes of their own"
                        + (label.isEmpty() ? "" : " (" + label + ")"),
                String.format(Locale.ROOT, "%d cores, JDK %s, %.0f s per figure after %.0f s warm-up (half-rate phases: "
                                + "%.0f s), %d connections, %.0f s of unmeasured JIT warm-up per route first.",
                        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), seconds, warmup,
                        halfWarmup, connections, jitWarmup));
        System.out.println(md);
        Path results = Path.of(System.getProperty("results", "bench/results"));
        Files.createDirectories(results);
        Files.writeString(results.resolve(LocalDate.now() + "-limit-checks-processes"
                + (label.isEmpty() ? "" : "-" + label) + ".md"), md);
        System.exit(0);
    }

    /** The enforcer's JVM ({@link LimitCheckServerProcess}): started, listening and loaded; stopped on close. */
    private static final class Server implements AutoCloseable {
        final Process process;
        final int port;
        private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();
        private final PrintStream control;

        private Server(Process process, int port, BufferedReader out) {
            this.process = process;
            this.port = port;
            this.control = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
            Thread reader = new Thread(() -> out.lines().forEach(replies::add), "enforcer-output");
            reader.setDaemon(true);
            reader.start();
        }

        static Server start(String opts, String bootstrap, String dbUrl, Path stateDir) throws Exception {
            List<String> command = new ArrayList<>(List.of(java("java")));
            if (!opts.isBlank()) {
                command.addAll(List.of(opts.strip().split("\\s+")));
            }
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), LimitCheckServerProcess.class.getName(),
                    bootstrap, dbUrl, EmbeddedPostgresServer.SUPERUSER, stateDir.toString()));
            Path log = Files.createTempFile("limit-check-server", ".log");
            Process process = new ProcessBuilder(command).redirectError(log.toFile()).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("port ")) {
                    System.out.println("  enforcer pid " + process.pid() + ", port " + line.substring(5).strip()
                            + ", log " + log);
                    return new Server(process, Integer.parseInt(line.substring(5).strip()), out);
                }
            }
            process.destroy();
            throw new IllegalStateException("the enforcer process did not start; see " + log);
        }

        /** Collections and accumulated milliseconds per collector since the server started. */
        Map<String, long[]> gc() throws InterruptedException {
            control.println("gc");
            String reply = replies.poll(30, TimeUnit.SECONDS);
            while (reply != null && !reply.startsWith("gc ")) {
                reply = replies.poll(30, TimeUnit.SECONDS);
            }
            if (reply == null) {
                throw new IllegalStateException("the enforcer process did not report its collections");
            }
            Map<String, long[]> byCollector = new LinkedHashMap<>();
            for (String entry : reply.substring(3).split("\\|")) {
                if (!entry.isEmpty()) {
                    String[] nv = entry.split("=", 2);
                    String[] cm = nv[1].split("/", 2);
                    byCollector.put(nv[0], new long[] {Long.parseLong(cm[0]), Long.parseLong(cm[1])});
                }
            }
            return byCollector;
        }

        @Override
        public void close() throws InterruptedException {
            control.close();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroy();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static String gcDelta(Map<String, long[]> before, Map<String, long[]> after) {
        StringBuilder s = new StringBuilder();
        after.forEach((name, a) -> {
            long[] b = before.getOrDefault(name, new long[2]);
            if (s.length() > 0) {
                s.append(", ");
            }
            s.append(name).append(": ").append(a[0] - b[0]).append(" / ").append(a[1] - b[1]);
        });
        return s.toString();
    }

    private static void jcmd(long pid, String... command) throws Exception {
        List<String> line = new ArrayList<>(List.of(java("jcmd"), Long.toString(pid)));
        line.addAll(List.of(command));
        Process p = new ProcessBuilder(line).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("jcmd " + String.join(" ", command) + " failed: " + out);
        }
    }

    private static String java(String tool) {
        return Path.of(System.getProperty("java.home"), "bin", tool).toString();
    }

    /**
     * Runs {@link HttpLoadProcess} in a JVM of its own; the server's CPU ({@code server}) is measured over its
     * measured window. {@code timeline}, if not empty, is where the load writes its worst latency per 100 ms.
     */
    private static Load load(String apiKey, String mode, String url, double seconds, double warmup, int connections,
                             double rate, ProcessHandle server, String timeline) throws Exception {
        // A young generation large enough that the load JVM rarely collects inside a measured window: its own
        // pauses would count as the server's latency (the collections it did make are reported).
        List<String> command = new ArrayList<>(List.of(java("java"), "-Xms1g", "-Xmx1g", "-Xmn900m",
                "-XX:+UseSerialGC"));
        if (!timeline.isEmpty()) {
            command.add("-Dtimeline=" + timeline);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"),
                HttpLoadProcess.class.getName(), mode, url, Double.toString(seconds), Double.toString(warmup),
                Integer.toString(connections)));
        if (rate > 0) {
            command.add(Double.toString(rate));
        }
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("BENCH_API_KEY", apiKey);
        Process process = pb.start();
        long cpuFrom = 0;
        long cpuTo = 0;
        long serverWaitFrom = 0;
        long serverWaitTo = 0;
        Map<String, String> result = new HashMap<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.equals("measuring")) {
                    cpuFrom = cpuNanos(server);
                    serverWaitFrom = runQueueNanos(server.pid());
                } else if (line.startsWith("result ")) {
                    cpuTo = cpuNanos(server);
                    serverWaitTo = runQueueNanos(server.pid());
                    for (String kv : line.substring(7).split(" ")) {
                        String[] p = kv.split("=", 2);
                        result.put(p[0], p[1]);
                    }
                } else {
                    System.out.println("  load: " + line);
                }
            }
        }
        if (process.waitFor() != 0 || result.isEmpty()) {
            throw new IllegalStateException("the load process failed (exit " + process.exitValue() + ")");
        }
        long count = Long.parseLong(result.get("count"));
        Load load = new Load(Double.parseDouble(result.get("rate")), Double.parseDouble(result.get("p50")),
                Double.parseDouble(result.get("p99")), Double.parseDouble(result.get("p999")),
                Integer.parseInt(result.get("failures")), Double.parseDouble(result.get("cpu_us")),
                (cpuTo - cpuFrom) / 1e3 / Math.max(count, 1), Double.parseDouble(result.get("gc_ms")),
                (serverWaitTo - serverWaitFrom) / 1e6, Double.parseDouble(result.get("runq_ms")));
        System.out.printf(Locale.ROOT, "  %s %s: %,.0f/s p50/p99/p99.9 %s / %s / %s ms, CPU µs/request server %.0f client %.0f, "
                        + "load JVM GC %.0f ms, run-queue wait server %.0f ms load %.0f ms, failures %d%n", mode, url,
                load.rate(), ms(load.p50Micros()), ms(load.p99Micros()), ms(load.p999Micros()), load.serverCpuMicros(),
                load.clientCpuMicros(), load.clientGcMillis(), load.serverRunQueueMillis(), load.clientRunQueueMillis(),
                load.failures());
        return load;
    }

    /**
     * The time the process's threads spent runnable but waiting for a core, summed over its threads
     * ({@code /proc/PID/task/TID/schedstat}, second field; Linux only, 0 elsewhere). A thread that ends between two
     * reads takes its wait with it, so a difference undercounts when threads come and go.
     */
    private static long runQueueNanos(long pid) {
        Path tasks = Path.of("/proc", Long.toString(pid), "task");
        if (!Files.isDirectory(tasks)) {
            return 0;
        }
        long sum = 0;
        try (var threads = Files.list(tasks)) {
            for (Path thread : (Iterable<Path>) threads::iterator) {
                try {
                    String[] fields = Files.readString(thread.resolve("schedstat")).trim().split(" ");
                    sum += Long.parseLong(fields[1]);
                } catch (java.io.IOException e) {
                    // The thread ended between the listing and the read.
                }
            }
        } catch (java.io.IOException e) {
            return sum;
        }
        return sum;
    }

    private static long cpuNanos(ProcessHandle process) {
        return process.info().totalCpuDuration().map(Duration::toNanos)
                .orElseThrow(() -> new IllegalStateException("no CPU time for process " + process.pid()));
    }

    private static String ms(double micros) {
        return String.format(Locale.ROOT, "%.2f", micros / 1e3);
    }

    private static void log(String what) {
        System.out.println("== " + what);
    }
}
