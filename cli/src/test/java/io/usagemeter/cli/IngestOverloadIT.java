package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.cli.load.LoadGenerator;
import io.usagemeter.cli.load.LoadReport;
import io.usagemeter.cli.load.Outcome;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Issue 22's overload test on the real broker and PostgreSQL, with ingest's default bounds. First
 * {@code meter load} (in process) measures what ingest takes in a closed loop on as many connections as
 * its in-flight bound; then it offers twice that, open loop, for 30 s on {@code meter load}'s default
 * connections (four times the bound), so that work past the bound meets it instead of waiting in the client. Every answer is 202 or 503 with
 * {@code Retry-After}; every event answered 202 is in {@code meter.usage-events}; ingest is ready and
 * accepts again within seconds. The figures (capacity, answers by kind, accepted p99, the generator's
 * own CPU, the time back to healthy) are printed.
 */
class IngestOverloadIT {

    /** Ingest's default; {@code -Doverload.maxInFlight=N} (through {@code -DargLine}) compares another bound. */
    private static final int BOUND = Integer.getInteger("overload.maxInFlight", IngestConfig.DEFAULT_MAX_IN_FLIGHT);
    private static final HttpLimits LIMITS = IngestConfig.DEFAULT_HTTP_LIMITS.withMaxInFlight(BOUND);
    /**
     * Four times the bound ({@code meter load}'s default for ingest's default bound): the bound's worth held by
     * accepted requests, the rest cycling through 503s.
     */
    private static final int OVERLOAD_CONNECTIONS = 4 * BOUND;
    private static final Duration WARM_UP = Duration.ofSeconds(10);
    private static final Duration MEASURE = Duration.ofSeconds(10);
    private static final Duration OVERLOAD = Duration.ofSeconds(30);
    private static final Duration HEALTHY_WITHIN = Duration.ofSeconds(10);
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static TestStack kafka;
    private static TestStack postgres;
    private static IngestService ingest;
    private static String apiKey;

    @BeforeAll
    static void start() {
        kafka = TestStack.start();
        postgres = TestStack.withSharedBroker();
        String url = postgres.jdbcUrl("meter");
        Flyway.configure().dataSource(url, postgres.user(), postgres.password())
                .locations("classpath:db/migration").load().migrate();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.kafkaBootstrap()))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser(postgres.user());
        ds.setPassword(postgres.password());
        apiKey = new ApiKeyStore(ds, Clock.systemUTC()).issue("overload-test", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
        ingest = IngestService.create(IngestConfig.defaults(kafka.kafkaBootstrap(), url, postgres.user(), postgres.password())
                .withPort(0).withHttpLimits(LIMITS.withMaxConnections(Math.max(LIMITS.maxConnections(), OVERLOAD_CONNECTIONS))))
                .start();
    }

    @AfterAll
    static void stop() {
        if (ingest != null) {
            ingest.close();
        }
        if (postgres != null) {
            postgres.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    @Test
    void twiceTheCapacityIsAcceptedOrShedAndNothingAcceptedIsLost() throws Exception {
        URI events = URI.create("http://localhost:" + ingest.port() + "/v1/events");
        // Capacity: a closed loop holding the in-flight bound busy, after a warm-up (JIT, producer batches).
        new LoadGenerator().run(LoadGenerator.Plan.closedLoop(events, apiKey, 500, WARM_UP, 1, BOUND,
                LoadGenerator.DEFAULT_TIMEOUT));
        LoadReport measured = new LoadGenerator().run(LoadGenerator.Plan.closedLoop(events, apiKey, 500, MEASURE, 1, BOUND,
                LoadGenerator.DEFAULT_TIMEOUT));
        int capacity = (int) measured.acceptedEventsPerSecond();
        System.out.printf("ingest capacity (single events, closed loop on %d connections = the in-flight bound): %,d events/s%n%s%n",
                BOUND, capacity, measured.summary());
        assertThat(measured.firstAttempts().counts().keySet()).as(measured.summary())
                .isSubsetOf(EnumSet.of(Outcome.ACCEPTED, Outcome.OVERLOADED));
        assertThat(capacity).as("ingest accepted events in the closed loop").isPositive();

        LoadReport overload = new LoadGenerator().run(new LoadGenerator.Plan(events, apiKey, 2 * capacity, 500, OVERLOAD, 1,
                OVERLOAD_CONNECTIONS, LoadGenerator.DEFAULT_TIMEOUT, Duration.ZERO));
        long overloadEnded = System.nanoTime();
        System.out.printf("ingest's own timers (capacity and overload runs): %s%n", serverTimers());
        double p99 = overload.acceptedLatency().getValueAtPercentile(99) / 1e6;
        System.out.printf("ingest at 2x capacity (%,d events/s offered for %d s on %d connections): accepted p99 %.1f ms;"
                        + " accepted %.0f%% of the measured capacity%n%s%n", 2 * capacity, OVERLOAD.toSeconds(),
                OVERLOAD_CONNECTIONS, p99, 100 * overload.acceptedEventsPerSecond() / capacity, overload.summary());

        assertThat(overload.firstAttempts().counts().keySet()).as(overload.summary())
                .isSubsetOf(EnumSet.of(Outcome.ACCEPTED, Outcome.OVERLOADED));
        // Past capacity the bound was met: work past it was shed at once, not queued.
        assertThat(overload.firstAttempts().count(Outcome.OVERLOADED)).as("requests shed with 503").isPositive();
        assertThat(overload.acceptedRequests()).as("ingest kept accepting").isPositive();
        assertThat(p99).as("no accepted request waited past the acknowledgement bound")
                .isLessThan(IngestConfig.DEFAULT_ACK_TIMEOUT.toMillis());

        // Healthy again within seconds: ready, and a request is accepted.
        long healthyAfter = awaitHealthy(events, overloadEnded);
        System.out.printf("ingest ready and accepting %.2f s after the overload ended%n", healthyAfter / 1e9);

        // Reconciled: every event answered 202 is in the topic, each once by its id.
        Set<String> accepted = overload.acceptedEventIds().ids();
        assertThat(accepted).hasSize((int) overload.acceptedRequests());
        // The difference is taken here: AssertJ's containsAll compares element by element, quadratic in 10^5 ids.
        Set<String> missing = new HashSet<>(accepted);
        missing.removeAll(eventIdsInTopic(accepted));
        assertThat(missing).as("events answered 202 but not in " + Topics.USAGE_EVENTS.name()).isEmpty();
    }

    /** "202: 1,234 answered, mean 12.0 ms, max 80.0 ms · 503: ...", from ingest's request timer of the events route. */
    private static String serverTimers() {
        return ingest.registry().find("meter.ingest.request").tag("route", "events").timers().stream()
                .sorted(Comparator.comparing(t -> t.getId().getTag("status")))
                .map(t -> String.format(Locale.ROOT, "%s: %,d answered, mean %.1f ms, max %.1f ms", t.getId().getTag("status"),
                        t.count(), t.mean(TimeUnit.MILLISECONDS), t.max(TimeUnit.MILLISECONDS)))
                .collect(Collectors.joining(" · "));
    }

    /** Nanoseconds from {@code since} until ingest is ready and accepts a request; fails after {@link #HEALTHY_WITHIN}. */
    private static long awaitHealthy(URI events, long since) throws Exception {
        URI ready = URI.create("http://localhost:" + ingest.port() + "/health/ready");
        String lastSeen = "nothing yet";
        while (System.nanoTime() - since < HEALTHY_WITHIN.toNanos()) {
            int readiness = HTTP.send(HttpRequest.newBuilder(ready).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
            if (readiness == 200) {
                LoadReport probe = new LoadGenerator().run(new LoadGenerator.Plan(events, apiKey, 20, 5,
                        Duration.ofMillis(250), 1));
                if (probe.allAccepted()) {
                    return System.nanoTime() - since;
                }
                lastSeen = probe.summary();
            } else {
                lastSeen = "/health/ready answered " + readiness;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("ingest not ready and accepting within " + HEALTHY_WITHIN + " of the overload: " + lastSeen);
    }

    /** The ids among {@code wanted} found in the usage events topic, reading until all are found or 60 s passed. */
    private static Set<String> eventIdsInTopic(Set<String> wanted) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.kafkaBootstrap());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        Set<String> found = new HashSet<>();
        try (var consumer = new KafkaConsumer<>(p, Topics.USAGE_EVENTS.keySerde().deserializer(),
                Topics.USAGE_EVENTS.valueSerde().deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.USAGE_EVENTS.name()).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (found.size() < wanted.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<?, UsageEvent> record : consumer.poll(Duration.ofMillis(200))) {
                    if (wanted.contains(record.value().eventId())) {
                        found.add(record.value().eventId());
                    }
                }
            }
        }
        return found;
    }
}
