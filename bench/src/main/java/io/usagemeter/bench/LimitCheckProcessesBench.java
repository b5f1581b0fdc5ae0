package io.usagemeter.bench;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.flywaydb.core.Flyway;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/**
 * The limit-check targets of issue 15 with the load generator in a JVM of its own ({@link HttpLoadProcess}):
 * this JVM holds the enforcer (its HTTP server and Streams app) beside an idle embedded broker and PostgreSQL,
 * the enforcer's store holding this month's usage of {@value UsageMix#USERS} users. In one run:
 * <ol>
 *   <li>the older design's SQL check alone ({@link LegacyBaseline}, 32 connections, in this JVM: JDBC, no HTTP);</li>
 *   <li>{@code GET /v1/limits/{user}} with a {@code limits:read} key, closed loop, the maximum rate;</li>
 *   <li>{@code GET /health/live} of the same server, closed loop (the trivial route);</li>
 *   <li>{@code GET /v1/limits/{user}} open loop at half that maximum, latency from when each request was due.</li>
 * </ol>
 * Before the HTTP figures, both routes are loaded unmeasured for {@code -DjitWarmup} seconds each (default 10), so
 * that the JIT has compiled the HTTP path and the SQL phase's code before either route is measured.
 * Prints a Markdown table and writes it to {@code bench/results/<date>-limit-checks-processes.md}.
 *
 * <pre>
 * bench/run-limit-checks-processes -Dseconds=10 -Dwarmup=6 -Dconnections=64 -DjitWarmup=10
 * </pre>
 */
public final class LimitCheckProcessesBench {

    private LimitCheckProcessesBench() {
    }

    record Load(double rate, double p50Micros, double p99Micros, double p999Micros, int failures,
                double clientCpuMicros, double serverCpuMicros) {
    }

    public static void main(String[] args) throws Exception {
        double seconds = Double.parseDouble(System.getProperty("seconds", "10"));
        double warmup = Double.parseDouble(System.getProperty("warmup", "6"));
        int connections = Integer.getInteger("connections", 64);
        double jitWarmup = Double.parseDouble(System.getProperty("jitWarmup", "10"));
        String label = System.getProperty("label", "");
        UsageMix mix = new UsageMix();
        Path stateDir = Files.createTempDirectory("limit-check-processes");
        SuiteTable table = new SuiteTable();
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
            EnforcerConfig config = EnforcerConfig.defaults(kafka.bootstrapServers(), stateDir, meterDb,
                    EmbeddedPostgresServer.SUPERUSER, "").withPort(0);
            LegacyBaseline legacy = new LegacyBaseline(baselineDb, EmbeddedPostgresServer.SUPERUSER, mix);
            legacy.prepare();
            try (EnforcerService enforcer = EnforcerService.create(config).start()) {
                LimitCheckBench.awaitLoaded(enforcer, config, mix);
                String apiKey = new ApiKeyStore(DSL.using(postgres.dataSource("meter"), SQLDialect.POSTGRES),
                        Clock.systemUTC()).issue("limit-check-bench", List.of(ApiKeyScopes.LIMITS_READ)).secret();
                String base = "http://localhost:" + enforcer.port();
                System.out.printf(Locale.ROOT, "limit checks, load in a separate JVM: %,d users, %d connections, "
                        + "%.0f s per figure after %.0f s warm-up, %d cores, JDK %s%n", UsageMix.USERS, connections,
                        seconds, warmup, Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));

                log("older design: SQL check alone, 32 connections");
                var sql = legacy.writeLoad(0, 2, seconds, false);
                double sqlRate = sql.callsPerSecond();
                double sqlP99 = sql.checkLatency().getValueAtPercentile(99) / 1e3;

                // The JIT is still compiling the SQL phase's code and the HTTP path when the first HTTP load starts
                // (C2 took a third of this JVM's CPU in the first route's window): both routes are loaded once,
                // unmeasured, so that neither figure pays for compilation the other does not.
                log(String.format(Locale.ROOT, "JIT warm-up: both routes, closed loop, %.0f s each, not measured", jitWarmup));
                load(apiKey, "closed", base + "/v1/limits/", jitWarmup, 0, connections, 0);
                load(apiKey, "closed", base + "/health/live", jitWarmup, 0, connections, 0);

                log("GET /v1/limits, closed loop");
                Load limits = load(apiKey, "closed", base + "/v1/limits/", seconds, warmup, connections, 0);
                log("GET /health/live, closed loop");
                Load trivial = load(apiKey, "closed", base + "/health/live", seconds, warmup, connections, 0);
                log("GET /v1/limits, open loop at half rate");
                Load half = load(apiKey, "open", base + "/v1/limits/", seconds, 2, connections, limits.rate() / 2);

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
                                + "offered, coordinated omission corrected); p50 / p99.9 %s / %s ms", limits.rate() / 2,
                                ms(half.p50Micros()), ms(half.p999Micros())), ms(half.p99Micros()), "ms", "", "",
                        "≤ 5 (stretch 2): " + SuiteTable.met(half.p99Micros() <= 5_000), "", ""));
                table.add(new SuiteTable.Row("Limit checks vs the older design's SQL check alone (32 JDBC connections, "
                                + "in the server's JVM): rate; p99", SuiteTable.number(sqlRate) + "; " + ms(sqlP99), "checks/s; ms",
                        "HTTP limit checks / SQL", SuiteTable.ratio(limits.rate(), sqlRate) + "; p99 "
                                + ms(limits.p99Micros()) + " vs " + ms(sqlP99),
                        "faster on both (stretch 2× the rate): " + SuiteTable.met(limits.rate() > sqlRate
                                && limits.p99Micros() < sqlP99), "", ""));
                table.add(new SuiteTable.Row("CPU per request, server JVM / load JVM: limit checks; trivial route",
                        String.format(Locale.ROOT, "%.0f / %.0f; %.0f / %.0f", limits.serverCpuMicros(),
                                limits.clientCpuMicros(), trivial.serverCpuMicros(), trivial.clientCpuMicros()),
                        "µs", "", "", "", "", ""));
                int failures = limits.failures() + trivial.failures() + half.failures() + sql.failures();
                if (failures > 0) {
                    table.note(failures + " requests were not answered 200 (or SQL checks failed).");
                }
                table.note(String.format(Locale.ROOT, "Load average (1 min) at the end: %.2f.",
                        ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
            }
        }
        String md = table.markdown("Limit checks, load generator in a separate JVM" + (label.isEmpty() ? "" : " (" + label + ")"),
                String.format(Locale.ROOT, "%d cores, JDK %s, %.0f s per figure after %.0f s warm-up, %d connections, "
                                + "%.0f s of unmeasured JIT warm-up per route first.",
                        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), seconds, warmup,
                        connections, jitWarmup));
        System.out.println(md);
        Path results = Path.of(System.getProperty("results", "bench/results"));
        Files.createDirectories(results);
        Files.writeString(results.resolve(LocalDate.now() + "-limit-checks-processes"
                + (label.isEmpty() ? "" : "-" + label) + ".md"), md);
        System.exit(0);
    }

    /** Runs {@link HttpLoadProcess} in a JVM of its own; this JVM's CPU is measured over its measured window. */
    private static Load load(String apiKey, String mode, String url, double seconds, double warmup, int connections,
                             double rate) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
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
        Map<String, String> result = new HashMap<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.equals("measuring")) {
                    cpuFrom = processCpuNanos();
                } else if (line.startsWith("result ")) {
                    cpuTo = processCpuNanos();
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
                (cpuTo - cpuFrom) / 1e3 / Math.max(count, 1));
        System.out.printf(Locale.ROOT, "  %s %s: %,.0f/s p50/p99/p99.9 %s / %s / %s ms, CPU µs/request server %.0f client %.0f, failures %d%n",
                mode, url, load.rate(), ms(load.p50Micros()), ms(load.p99Micros()), ms(load.p999Micros()),
                load.serverCpuMicros(), load.clientCpuMicros(), load.failures());
        return load;
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
