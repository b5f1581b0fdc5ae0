package io.usagemeter.bench;

import io.usagemeter.aggregator.internal.UserPartitioner;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.enforcer.internal.LimitQueries;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.state.HostInfo;
import org.flywaydb.core.Flyway;

/**
 * The "Limit checks" phase of {@link BenchSuite} alone, in about a minute: an embedded broker and PostgreSQL,
 * one enforcer whose store holds this month's usage of {@value UsageMix#USERS} users (summaries published as
 * the aggregator would), then per round the in-process store lookup ({@code LimitQueries}, 2 threads: the
 * reference) and {@code GET /v1/limits/{user}} over HTTP/1.1 keep-alive with 64 connections, with each client
 * of {@link LimitCheckLoad}, each line with the CPU per check of the enforcer side and of the client. Only ratios
 * within one run compare: the two cores are shared.
 *
 * <pre>
 * bench/run-limit-checks -Dseconds=8 -Drounds=2 -Dconnections=64 -Dclients=nio,socket,jdk -Dwarmup=6
 * </pre>
 */
public final class LimitCheckBench {

    private static final int LOOKUP_THREADS = 2;

    private LimitCheckBench() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = Double.parseDouble(System.getProperty("seconds", "8"));
        int rounds = Integer.getInteger("rounds", 2);
        int connections = Integer.getInteger("connections", 64);
        double warmup = Double.parseDouble(System.getProperty("warmup", "6"));
        List<LimitCheckLoad.Client> clients = new ArrayList<>();
        for (String c : System.getProperty("clients", "nio,socket,jdk").split(",")) {
            clients.add(LimitCheckLoad.Client.valueOf(c.strip().toUpperCase(Locale.ROOT)));
        }
        UsageMix mix = new UsageMix();
        Path stateDir = Files.createTempDirectory("limit-check-bench");
        try (EmbeddedKafkaBroker kafka = EmbeddedKafkaBroker.start();
             EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start()) {
            String meterDb = postgres.createDatabase("meter");
            Flyway.configure().dataSource(meterDb, EmbeddedPostgresServer.SUPERUSER, "")
                    .locations("classpath:db/migration").load().migrate();
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            }
            publishUsage(kafka.bootstrapServers(), mix);
            EnforcerConfig config = EnforcerConfig.defaults(kafka.bootstrapServers(), stateDir, meterDb,
                    EmbeddedPostgresServer.SUPERUSER, "").withPort(0);
            try (EnforcerService enforcer = EnforcerService.create(config).start()) {
                awaitLoaded(enforcer, config, mix);
                URI limits = URI.create("http://localhost:" + enforcer.port() + "/v1/limits/");
                String apiKey = new io.usagemeter.kit.keys.ApiKeyStore(org.jooq.impl.DSL.using(
                        postgres.dataSource("meter"), org.jooq.SQLDialect.POSTGRES), Clock.systemUTC())
                        .issue("limit-check-bench", java.util.List.of(io.usagemeter.kit.keys.ApiKeyScopes.LIMITS_READ))
                        .secret();
                URI self = config.advertisedUrl(enforcer.port());
                LimitQueries queries = new LimitQueries(enforcer.streams(), new HostInfo(self.getHost(), self.getPort()),
                        BigDecimal.ZERO, Clock.systemUTC());
                System.out.printf(Locale.ROOT, "limit checks: %,d users, %d connections, %.0f s per figure, %d rounds, "
                        + "%d cores, JDK %s%n", UsageMix.USERS, connections, seconds, rounds,
                        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
                for (LimitCheckLoad.Client client : clients) {
                    LimitCheckLoad.run(client, limits, apiKey, connections, warmup, UsageMix.USERS, mix::user); // JIT warm-up
                }
                lookups(queries, 2, mix);
                for (int round = 1; round <= rounds; round++) {
                    Histogram lookup = lookups(queries, seconds, mix);
                    double lookupRate = lookup.getTotalCount() / seconds;
                    System.out.printf(Locale.ROOT, "round %d in-process lookup (LimitQueries, %d threads): %,.0f lookups/s"
                            + "  p50/p99/p99.9 %s / %s / %s µs%n", round, LOOKUP_THREADS, lookupRate,
                            us(lookup, 50), us(lookup, 99), us(lookup, 99.9));
                    for (LimitCheckLoad.Client client : clients) {
                        var r = LimitCheckLoad.run(client, limits, apiKey, connections, seconds, UsageMix.USERS, mix::user);
                        Histogram h = r.latency();
                        System.out.printf(Locale.ROOT, "round %d HTTP %-6s client: %,.0f checks/s (%.2f× lookups)  "
                                        + "p50/p99/p99.9 %s / %s / %s ms  CPU µs/check server %.0f (Jetty threads %.0f) client %.0f  failures %d%n", round,
                                client.name().toLowerCase(Locale.ROOT), r.rate(), r.rate() / lookupRate,
                                ms(h, 50), ms(h, 99), ms(h, 99.9), r.serverCpuMicrosPerCheck(),
                                r.jettyCpuMicrosPerCheck(), r.clientCpuMicrosPerCheck(), r.failures());
                    }
                }
            }
        }
        System.exit(0);
    }

    /** This month's usage of every user, partitioned by user as the aggregator writes it. */
    static void publishUsage(String bootstrap, UsageMix mix) {
        Map<String, Object> p = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.LINGER_MS_CONFIG, 5);
        YearMonth month = YearMonth.now(ZoneOffset.UTC);
        Instant at = Instant.now();
        int partitions = TopicSettings.singleBroker().partitions();
        try (var producer = new KafkaProducer<>(p, Topics.USAGE_SUMMARIES.keySerde().serializer(),
                Topics.USAGE_SUMMARIES.valueSerde().serializer())) {
            for (int i = 0; i < UsageMix.USERS; i++) {
                UUID user = mix.user(i);
                long units = i % 1_200;
                MonthlySummary s = new MonthlySummary(user, month, units, units, units, 0, 0, 0, 0, 0, 0, at, at,
                        Map.of(Provider.OPENAI, units));
                producer.send(new ProducerRecord<>(Topics.USAGE_SUMMARIES.name(), UserPartitioner.partitionOf(user, partitions),
                        at.toEpochMilli(), s.key(), s));
            }
        }
    }

    /** Waits until the enforcer runs and the last user's usage is visible. */
    static void awaitLoaded(EnforcerService enforcer, EnforcerConfig config, UsageMix mix) throws Exception {
        long deadline = System.nanoTime() + 120_000_000_000L;
        URI self = config.advertisedUrl(enforcer.port());
        LimitQueries queries = new LimitQueries(enforcer.streams(), new HostInfo(self.getHost(), self.getPort()),
                BigDecimal.ZERO, Clock.systemUTC());
        int last = UsageMix.USERS - 1;
        while (System.nanoTime() < deadline) {
            if (enforcer.streams().state() == KafkaStreams.State.RUNNING
                    && queries.limit(mix.user(last), false) instanceof LimitQueries.Outcome.Local<?> local
                    && ((io.usagemeter.enforcer.client.LimitAnswer) local.value()).used() == last % 1_200) {
                return;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("the enforcer did not load the usage within 120 s");
    }

    private static Histogram lookups(LimitQueries queries, double seconds, UsageMix mix) throws Exception {
        long until = System.nanoTime() + (long) (seconds * 1e9);
        AtomicInteger notLocal = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(LOOKUP_THREADS);
        List<Future<Histogram>> results = new ArrayList<>();
        for (int t = 0; t < LOOKUP_THREADS; t++) {
            results.add(pool.submit(() -> {
                Histogram latency = new Histogram(60_000_000_000L, 3);
                while (System.nanoTime() < until) {
                    UUID user = mix.user(ThreadLocalRandom.current().nextInt(UsageMix.USERS));
                    long t0 = System.nanoTime();
                    if (!(queries.servedLimit(user, false, null) instanceof LimitQueries.Outcome.Local<?>)) {
                        notLocal.incrementAndGet();
                    }
                    latency.recordValue(System.nanoTime() - t0);
                }
                return latency;
            }));
        }
        Histogram all = new Histogram(60_000_000_000L, 3);
        for (Future<Histogram> f : results) {
            all.add(f.get());
        }
        pool.shutdown();
        if (notLocal.get() > 0) {
            System.out.println(notLocal.get() + " in-process lookups were not answered locally");
        }
        return all;
    }

    private static String ms(Histogram h, double percentile) {
        return String.format(Locale.ROOT, "%.2f", h.getValueAtPercentile(percentile) / 1e6);
    }

    private static String us(Histogram h, double percentile) {
        return String.format(Locale.ROOT, "%.1f", h.getValueAtPercentile(percentile) / 1e3);
    }
}
