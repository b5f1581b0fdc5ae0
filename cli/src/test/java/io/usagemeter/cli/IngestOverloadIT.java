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
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
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
 * Issue 22's overload test on the real broker and PostgreSQL: {@code meter load} (in process) offers
 * single-event requests at twice the capacity it measured first, on more connections than ingest's
 * in-flight bound. Every answer is 202 or 503 with {@code Retry-After}; every event answered 202 is in
 * {@code meter.usage-events}; ingest answers again at once afterwards.
 */
class IngestOverloadIT {

    /** Below the load's connections, so that offered work past capacity meets the bound, not a queue. */
    private static final int MAX_IN_FLIGHT = 8;
    private static final int CONNECTIONS = 32;
    private static final Duration MEASURE = Duration.ofSeconds(4);
    private static final Duration OVERLOAD = Duration.ofSeconds(15);
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
                .withPort(0).withHttpLimits(HttpLimits.defaults().withMaxInFlight(MAX_IN_FLIGHT))).start();
    }

    @AfterAll
    static void stop() {
        if (ingest != null) {
            ingest.close();
        }
        if (postgres != null) {
            if (postgres != null) {
                postgres.close();
            }
        }
        if (kafka != null) {
            if (kafka != null) {
                kafka.close();
            }
        }
    }

    @Test
    void twiceTheCapacityIsAcceptedOrShedAndNothingAcceptedIsLost() throws Exception {
        URI events = URI.create("http://localhost:" + ingest.port() + "/v1/events");
        // Capacity: what ingest accepts when offered far more than it can take.
        LoadReport measured = new LoadGenerator().run(new LoadGenerator.Plan(events, apiKey, 20_000, 500, MEASURE, 1,
                CONNECTIONS, LoadGenerator.DEFAULT_TIMEOUT, Duration.ZERO));
        int capacity = (int) Math.max(100, measured.acceptedEventsPerSecond());
        System.out.printf("ingest capacity (single events, %d in flight): %,d events/s%n%s%n", MAX_IN_FLIGHT, capacity,
                measured.summary());

        LoadReport overload = new LoadGenerator().run(new LoadGenerator.Plan(events, apiKey, 2 * capacity, 500, OVERLOAD, 1,
                CONNECTIONS, LoadGenerator.DEFAULT_TIMEOUT, Duration.ZERO));
        double p99 = overload.acceptedLatency().getValueAtPercentile(99) / 1e6;
        System.out.printf("ingest at 2x capacity (%,d events/s offered for %d s): accepted p99 %.1f ms%n%s%n",
                2 * capacity, OVERLOAD.toSeconds(), p99, overload.summary());

        assertThat(overload.firstAttempts().counts().keySet()).as(overload.summary())
                .isSubsetOf(EnumSet.of(Outcome.ACCEPTED, Outcome.OVERLOADED));
        assertThat(measured.firstAttempts().counts().keySet()).as(measured.summary())
                .isSubsetOf(EnumSet.of(Outcome.ACCEPTED, Outcome.OVERLOADED));
        // Far past capacity, the bound was met: work past it was shed, not queued.
        assertThat(measured.firstAttempts().count(Outcome.OVERLOADED) + overload.firstAttempts().count(Outcome.OVERLOADED))
                .as("requests shed with 503").isPositive();
        assertThat(overload.acceptedRequests()).as("ingest kept accepting").isPositive();
        assertThat(p99).as("no accepted request waited past the acknowledgement bound")
                .isLessThan(IngestConfig.DEFAULT_ACK_TIMEOUT.toMillis());

        Set<String> accepted = overload.acceptedEventIds().ids();
        assertThat(accepted).hasSize((int) overload.acceptedRequests());
        Set<String> stored = eventIdsInTopic(accepted);
        assertThat(stored).as("every event answered 202 is in " + Topics.USAGE_EVENTS.name()).containsAll(accepted);

        // Healthy again at once: ready, and a single request is accepted.
        assertThat(HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + ingest.port() + "/health/ready")).build(),
                HttpResponse.BodyHandlers.discarding()).statusCode()).isEqualTo(200);
        LoadReport after = new LoadGenerator().run(new LoadGenerator.Plan(events, apiKey, 10, 5, Duration.ofSeconds(1), 1));
        assertThat(after.allAccepted()).as(after.summary()).isTrue();
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
