package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import io.usagemeter.aggregator.EndToEndWorkload.EventKey;
import io.usagemeter.aggregator.EndToEndWorkload.SentEvent;
import io.usagemeter.aggregator.EndToEndWorkload.SentReset;
import io.usagemeter.aggregator.EndToEndWorkload.SummaryRow;
import io.usagemeter.aggregator.EndToEndWorkload.YearMonthOfUser;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.awaitility.core.ConditionTimeoutException;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole pipeline, exactly (issue 4): the real {@link AggregatorService} with its PostgreSQL sink,
 * an embedded broker and an embedded PostgreSQL; random events with copies, late arrivals and usage
 * resets go in, and {@code monthly_usage_summary} and {@code api_usage} must equal a reference computed
 * from the contract ({@link EndToEndWorkload}) — also when the aggregator is killed without a clean
 * shutdown, and when PostgreSQL goes away mid-stream.
 *
 * <p>Each test has a broker of its own: the topology reads the standard topic names, so a broker of
 * its own is what keeps its topics apart from other test classes on the shared broker. PostgreSQL is
 * shared by the class (one database per test) on a fixed data directory and port, so it can be
 * stopped and started again.
 *
 * <p>Sizes: 50k events over 1,500 users in the exact test, 20k over 1,000 users with three kills (each
 * restart restores the stores from their changelogs), 20k over 1,000 users with the database outage;
 * {@code -De2e.scale=} multiplies them. Measured on a two-core machine: 48 s for the class at a load
 * average of 1 (exact 14 s, kills 25 s, outage 7 s), 166 s at a load average of about 20 (kills 85 s,
 * most of it four JVM starts and store restores).
 */
class AggregatorEndToEndTest {

    private static final int PARTITIONS = 3;
    private static final Duration CATCH_UP = Duration.ofMinutes(3);
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path postgresDir;
    private static int postgresPort;
    private static EmbeddedPostgresServer postgres;

    @TempDir
    Path stateDir;
    private EmbeddedKafkaBroker broker;
    private Admin admin;
    private String run;

    @BeforeAll
    static void startPostgres() throws IOException {
        TestStack.requireEmbedded("it stops PostgreSQL and the broker and starts them again on the same data");
        try (ServerSocket socket = new ServerSocket(0)) {
            postgresPort = socket.getLocalPort();
        }
        postgres = EmbeddedPostgresServer.start(postgresDir, postgresPort);
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @BeforeEach
    void startBroker(TestInfo test) {
        run = test.getTestMethod().orElseThrow().getName().replaceAll("[^A-Za-z]", "").toLowerCase()
                .substring(0, 12) + "-" + UUID.randomUUID().toString().substring(0, 8);
        broker = EmbeddedKafkaBroker.start();
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
        // Events are up to two months old: retention long enough that the broker never deletes them.
        TopicBootstrapper.bootstrap(admin, new TopicSettings(PARTITIONS, (short) 1, 1, Duration.ofDays(400)));
    }

    @AfterEach
    void stopBroker() {
        if (admin != null) {
            admin.close();
        }
        if (broker != null) {
            broker.close();
        }
    }

    @Test
    void tablesEqualTheReferenceExactly() throws Exception {
        EndToEndWorkload workload = EndToEndWorkload.generate(20261125L, 1_500, events(50_000), 12, Instant.now());
        DataSource db = database("e2e_exact");
        try (AggregatorService service = new AggregatorService(aggregatorConfig(), Clock.systemUTC(),
                sinkConfig("e2e_exact")).start();
             FreshnessProbe freshness = new FreshnessProbe(db)) {
            long started = System.nanoTime();
            produce(workload, 0, workload.sent.size(), sent -> {
                if (workload.probeUsers.contains(sent.userId())) {
                    freshness.sent(sent.userId());
                }
            });
            long produced = System.nanoTime();
            awaitExact(workload, db);
            System.out.printf("e2e exact: %d records (%d events, %d copies with the same occurred_at, %d re-stamped,"
                            + " %d late, %d resets) produced in %d ms, tables exact after %d ms; freshness: %s%n",
                    workload.sent.size(), workload.originals.size(), workload.copiesSameTime, workload.copiesRestamped,
                    workload.lateEvents, workload.resets.size(), ms(produced - started), ms(System.nanoTime() - started),
                    freshness.report());
            assertEverythingConsumed(db, workload, "e2e-" + run, "e2e_exact");
            assertThat(get(service.httpPort(), "/health/ready").statusCode()).isEqualTo(200);
        }
    }

    @Test
    void exactAfterTheAggregatorIsKilledThreeTimesMidStream() throws Exception {
        EndToEndWorkload workload = EndToEndWorkload.generate(4_2026L, 1_000, events(20_000), 10, Instant.now());
        DataSource db = database("e2e_kill");
        PipelineTables tables = new PipelineTables(db);
        String applicationId = "e2e-kill-" + run;
        String sink = "e2e_kill";
        Path state = stateDir.resolve("aggregator");
        int[] quarter = quarters(workload);
        produce(workload, 0, quarter[1], sent -> { });
        Process aggregator = startProcess(applicationId, state, sink, 0);
        try {
            // 1: halfway through the first quarter of the stream, the sink well ahead on raw events.
            long halfOfFirst = workload.eventRecordsBefore(quarter[1]) / 2;
            await().atMost(CATCH_UP).pollInterval(Duration.ofMillis(50))
                    .until(() -> consumedEvents(applicationId) >= halfOfFirst);
            aggregator = killAndRestart(aggregator, 1, applicationId, state, sink, db);

            // 2: as soon as the sink writes the next quarter's first raw events.
            long rows = tables.totals().apiUsageRows();
            produce(workload, quarter[1], quarter[2], sent -> { });
            await().atMost(CATCH_UP).pollInterval(Duration.ofMillis(20)).until(() -> tables.totals().apiUsageRows() > rows);
            aggregator = killAndRestart(aggregator, 2, applicationId, state, sink, db);

            // 3: halfway through the third quarter, while the rest is still being produced.
            produce(workload, quarter[2], quarter[3], sent -> { });
            long halfOfThird = (workload.eventRecordsBefore(quarter[2]) + workload.eventRecordsBefore(quarter[3])) / 2;
            await().atMost(CATCH_UP).pollInterval(Duration.ofMillis(50))
                    .until(() -> consumedEvents(applicationId) >= halfOfThird);
            aggregator = killAndRestart(aggregator, 3, applicationId, state, sink, db);

            produce(workload, quarter[3], workload.sent.size(), sent -> { });
            awaitExact(workload, db);
            assertEverythingConsumed(db, workload, applicationId, sink);
        } finally {
            aggregator.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    /** SIGKILL (no close, no commit, no leaving the group), then a new process on the same state directory and ids. */
    private Process killAndRestart(Process aggregator, int kill, String applicationId, Path state, String sink,
                                   DataSource db) throws Exception {
        aggregator.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        System.out.printf("e2e kill %d: SIGKILL with %d events consumed by the stream, %d api_usage rows%n", kill,
                consumedEvents(applicationId), new PipelineTables(db).totals().apiUsageRows());
        // A killed member stays in its groups until its session times out (45 s): evict it, as the
        // expiry would, so the restarted instance gets its partitions at once.
        evictMembers(applicationId);
        evictMembers(sink);
        return startProcess(applicationId, state, sink, kill);
    }

    /** Positions in the records sent at 0, 1/4, 1/2 and 3/4. */
    private static int[] quarters(EndToEndWorkload workload) {
        int n = workload.sent.size();
        return new int[] {0, n / 4, n / 2, 3 * n / 4};
    }

    @Test
    void notReadyWhilePostgresIsDownThenExact() throws Exception {
        EndToEndWorkload workload = EndToEndWorkload.generate(3_2026L, 1_000, events(20_000), 10, Instant.now());
        DataSource db = database("e2e_outage");
        String applicationId = "e2e-outage-" + run;
        try (AggregatorService service = new AggregatorService(aggregatorConfig().withApplicationId(applicationId),
                Clock.systemUTC(), sinkConfig("e2e_outage")).start()) {
            int half = workload.sent.size() / 2;
            produce(workload, 0, half, sent -> { });
            await().atMost(CATCH_UP).until(() -> new PipelineTables(db).totals().summaryRows() > 0
                    && consumedEvents(applicationId) > 0);
            await().atMost(Duration.ofSeconds(30)).until(() -> get(service.httpPort(), "/health/ready").statusCode() == 200);

            postgres.close();
            produce(workload, half, workload.sent.size(), sent -> { });
            await().atMost(Duration.ofSeconds(30)).until(() -> get(service.httpPort(), "/health/ready").statusCode() == 503);
            HttpResponse<String> notReady = get(service.httpPort(), "/health/ready");
            // The stream runs on without the database: let it consume everything, the sink must then catch up.
            await().atMost(CATCH_UP).until(() -> consumedEvents(applicationId) == workload.eventRecords());
            assertThat(get(service.httpPort(), "/health/ready").statusCode()).isEqualTo(503);
            System.out.printf("e2e outage: not ready while PostgreSQL is down: %d %s%n", notReady.statusCode(),
                    notReady.body());

            postgres = EmbeddedPostgresServer.start(postgresDir, postgresPort);
            await().atMost(Duration.ofSeconds(60)).until(() -> get(service.httpPort(), "/health/ready").statusCode() == 200);
            awaitExact(workload, db);
            assertEverythingConsumed(db, workload, applicationId, "e2e_outage");
        }
    }

    // --- the pipeline's pieces

    private AggregatorConfig aggregatorConfig() {
        return AggregatorConfig.defaults(broker.bootstrapServers(), stateDir.resolve("aggregator"))
                .withApplicationId("e2e-" + run);
    }

    private SinkConfig sinkConfig(String database) {
        return SinkConfig.fromEnvironment(Map.of(SinkConfig.KAFKA_BOOTSTRAP, broker.bootstrapServers(),
                        SinkConfig.DB_URL, postgres.jdbcUrl(database), SinkConfig.DB_USER, EmbeddedPostgresServer.SUPERUSER))
                .withName(database)
                .withRetryBackoff(Duration.ofMillis(50), Duration.ofMillis(500));
    }

    /** A fresh, migrated database; its data source is bound to the port, so it reaches a restarted server too. */
    private static DataSource database(String name) {
        postgres.recreateDatabase(name);
        DataSource dataSource = postgres.dataSource(name);
        FlywayMigrations.flyway(dataSource).migrate();
        return dataSource;
    }

    /** The aggregator and its sink in a child JVM, on the same state directory every time. */
    private Process startProcess(String applicationId, Path state, String sink, int generation) throws Exception {
        Path log = Path.of(System.getProperty("java.io.tmpdir"), "e2e-aggregator-" + run + "-" + generation + ".log");
        Process process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), AggregatorProcess.class.getName(),
                broker.bootstrapServers(), applicationId, state.toString(), sink, postgres.jdbcUrl(sink),
                EmbeddedPostgresServer.SUPERUSER)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
                if (!process.isAlive()) {
                    fail("the aggregator process exited with " + process.exitValue() + "; the end of " + log + ":\n"
                            + tail(log, 60));
                }
                return Files.readString(log).contains("READY ");
            });
        } catch (RuntimeException | Error e) {
            process.destroyForcibly();
            throw e;
        }
        return process;
    }

    /** The last {@code lines} lines of a child's log, so that a failure in CI shows its cause. */
    private static String tail(Path log, int lines) throws IOException {
        List<String> all = Files.readAllLines(log);
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private void evictMembers(String group) {
        try {
            admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions()).all()
                    .get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            // Nothing to evict (the group is empty or the member already expired).
            System.out.printf("e2e: evicting the members of %s: %s%n", group, e.getMessage());
        }
    }

    /** Events the Streams app has committed past, over every partition of the events topic. */
    private long consumedEvents(String applicationId) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(applicationId)
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        return committed.entrySet().stream()
                .filter(e -> e.getKey().topic().equals(Topics.USAGE_EVENTS.name()) && e.getValue() != null)
                .mapToLong(e -> e.getValue().offset()).sum();
    }

    /** Records {@code from} to {@code to} of the workload, as ingest sends them: keyed by user, record time = event time. */
    private void produce(EndToEndWorkload workload, int from, int to, Consumer<UsageEvent> onSend) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        String events = Topics.USAGE_EVENTS.name();
        String commands = Topics.ADMIN_COMMANDS.name();
        AtomicReference<Exception> failed = new AtomicReference<>();
        Callback onAck = (metadata, e) -> {
            if (e != null) {
                failed.compareAndSet(null, e);
            }
        };
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (EndToEndWorkload.Sent sent : workload.sent.subList(from, to)) {
                if (sent instanceof SentEvent s) {
                    UsageEvent e = s.event();
                    producer.send(new ProducerRecord<>(events, null, e.occurredAt().toEpochMilli(),
                            Topics.USAGE_EVENTS.keySerde().serializer().serialize(events, e.userId().toString()),
                            Topics.USAGE_EVENTS.valueSerde().serializer().serialize(events, e)), onAck);
                    onSend.accept(e);
                } else if (sent instanceof SentReset r) {
                    AdminCommand.ResetUsage reset = r.reset();
                    producer.send(new ProducerRecord<>(commands, null, reset.issuedAt().toEpochMilli(),
                            Topics.ADMIN_COMMANDS.keySerde().serializer().serialize(commands, reset.userId().toString()),
                            Topics.ADMIN_COMMANDS.valueSerde().serializer().serialize(commands, reset)), onAck);
                }
            }
            producer.flush();
        }
        // A record the broker refused would be missing from the tables through no fault of the pipeline.
        assertThat(failed.get()).as("a record was not acknowledged").isNull();
    }

    // --- the checks

    /** Waits until the tables' totals match, then requires every row to equal the reference. */
    private static void awaitExact(EndToEndWorkload workload, DataSource db) throws Exception {
        PipelineTables tables = new PipelineTables(db);
        Map<YearMonthOfUser, SummaryRow> summaries = workload.expectedSummaries();
        Set<EventKey> apiUsage = workload.expectedApiUsage();
        PipelineTables.Totals expected = new PipelineTables.Totals(summaries.size(),
                summaries.values().stream().mapToLong(SummaryRow::calls).sum(),
                summaries.values().stream().mapToLong(SummaryRow::units).sum(), apiUsage.size());
        try {
            await().atMost(CATCH_UP).pollInterval(Duration.ofMillis(200)).ignoreExceptions()
                    .until(() -> tables.totals().equals(expected));
        } catch (ConditionTimeoutException e) {
            System.out.printf("e2e: totals %s, expected %s%n", tables.totals(), expected);
        }
        assertExact(workload, tables, summaries, apiUsage);
    }

    private static void assertExact(EndToEndWorkload workload, PipelineTables tables,
                                    Map<YearMonthOfUser, SummaryRow> summaries, Set<EventKey> apiUsage) throws Exception {
        assertSameRows("monthly_usage_summary", summaries, tables.summaries());
        Map<EventKey, Long> stored = tables.apiUsageUnits();
        Set<EventKey> missing = new HashSet<>(apiUsage);
        missing.removeAll(stored.keySet());
        Set<EventKey> extra = new HashSet<>(stored.keySet());
        extra.removeAll(apiUsage);
        assertThat(missing).as("api_usage rows missing").isEmpty();
        assertThat(extra).as("api_usage rows that should not exist (copies of an event)").isEmpty();
        // The two tables agree: api_usage's units after each month's latest reset are the summary's units.
        Map<YearMonthOfUser, Long> summaryUnits = summaries.entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().units()));
        assertThat(EndToEndWorkload.unitsAfterResets(stored, workload.latestResets())).isEqualTo(summaryUnits);
    }

    private static <K, V> void assertSameRows(String table, Map<K, V> expected, Map<K, V> actual) {
        List<String> differences = new ArrayList<>();
        expected.forEach((key, row) -> {
            V found = actual.get(key);
            if (!row.equals(found)) {
                differences.add("expected " + row + "\n      found " + found);
            }
        });
        actual.keySet().stream().filter(k -> !expected.containsKey(k))
                .forEach(k -> differences.add("unexpected " + actual.get(k)));
        if (!differences.isEmpty()) {
            fail(differences.size() + " of " + expected.size() + " " + table + " rows differ, e.g.\n  "
                    + String.join("\n  ", differences.subList(0, Math.min(5, differences.size()))));
        }
    }

    /**
     * Nothing is left to change the tables: the Streams app committed past every input record, the
     * sink stored the end of the events topic, and the tables still equal the reference.
     */
    private void assertEverythingConsumed(DataSource db, EndToEndWorkload workload, String applicationId, String sink)
            throws Exception {
        Map<TopicPartition, Long> ends = endOffsets(Topics.USAGE_EVENTS.name());
        Map<TopicPartition, Long> streamsCommitted = new HashMap<>();
        admin.listConsumerGroupOffsets(applicationId).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS)
                .forEach((tp, offset) -> streamsCommitted.put(tp, offset.offset()));
        Map<TopicPartition, Long> inputEnds = new HashMap<>(ends);
        inputEnds.putAll(endOffsets(Topics.ADMIN_COMMANDS.name()));
        inputEnds.values().removeIf(end -> end == 0);
        streamsCommitted.keySet().retainAll(inputEnds.keySet());
        assertThat(streamsCommitted).as("Streams committed offsets").isEqualTo(inputEnds);
        Map<TopicPartition, Long> stored = new HashMap<>();
        try (Connection c = db.getConnection()) {
            var o = Tables.SINK_OFFSETS;
            DSL.using(c, SQLDialect.POSTGRES).selectFrom(o).where(o.SINK.eq(sink).and(o.TOPIC.eq(Topics.USAGE_EVENTS.name())))
                    .forEach(r -> stored.put(new TopicPartition(r.getTopic(), r.getPartition()), r.getNextOffset()));
        }
        assertThat(stored).isEqualTo(ends);
        PipelineTables tables = new PipelineTables(db);
        assertExact(workload, tables, workload.expectedSummaries(), workload.expectedApiUsage());
    }

    private Map<TopicPartition, Long> endOffsets(String topic) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) {
            latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
        Map<TopicPartition, Long> ends = new HashMap<>();
        admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS).forEach((tp, info) -> ends.put(tp, info.offset()));
        return ends;
    }

    private static HttpResponse<String> get(int port, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** {@code base} events, scaled by {@code -De2e.scale=} (e.g. 4 for a nightly run on an idle machine). */
    private static int events(int base) {
        return (int) (base * Double.parseDouble(System.getProperty("e2e.scale", "1")));
    }

    private static long ms(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }
}
