package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code meter admin rewind-aggregator}: parsing, refusals and exit codes, the dry run, and a rewind of an idle
 * aggregator group (each test its own application id). The rebuild itself is {@code AggregatorRewindTest}'s.
 */
class RewindAggregatorCommandTest {

    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    /**
     * A broker of its own: the usage events sent here (this month's among them) would otherwise be read by
     * every later replay of the month on the shared broker, where no live aggregator counted them.
     */
    private static TestStack kafka;
    private static String bootstrap;

    @TempDir
    Path stateDir;

    private String appId;

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void topics() throws Exception {
        kafka = TestStack.start();
        bootstrap = kafka.kafkaBootstrap();
        try (Admin admin = admin()) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.fromEnv(Map.of()));
        }
        try (var producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                new StringSerializer(), Topics.USAGE_EVENTS.valueSerde().serializer())) {
            Instant now = TIME.now().truncatedTo(ChronoUnit.MILLIS);
            for (int i = 0; i < 30; i++) {
                UUID user = UUID.randomUUID();
                Instant at = now.minus(Duration.ofDays(40 - i));
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, at.toEpochMilli(), user.toString(),
                        new UsageEvent("rewind-cli-" + i, user, at, Provider.OPENAI, "/v1/x", "POST", 200, 5, 1, 1, 0, 1)));
            }
            producer.flush();
        }
    }

    @AfterAll
    static void stopBroker() {
        if (kafka != null) {
            if (kafka != null) {
                kafka.close();
            }
        }
    }

    @BeforeEach
    void group() {
        appId = "cli-rewind-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private Run meter(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Meter.commandLine(Map.of("METER_KAFKA_BOOTSTRAP", bootstrap,
                "METER_AGGREGATOR_APPLICATION_ID", appId, "METER_AGGREGATOR_STATE_DIR", stateDir.toString()));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void aRangeIsRequiredAndExactlyOne() {
        Run none = meter("admin", "rewind-aggregator", "--dry-run");
        assertThat(none.code()).isEqualTo(2);
        assertThat(none.err()).contains("--month").contains("--from");
        Run both = meter("admin", "rewind-aggregator", "--month", MONTH.toString(), "--from", "2026-01-01T00:00:00Z");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("mutually exclusive");
        Run badMonth = meter("admin", "rewind-aggregator", "--month", "2026-13");
        assertThat(badMonth.code()).isEqualTo(2);
    }

    @Test
    void theVerbIsListedUnderAdmin() {
        Run help = meter("admin", "--help");
        assertThat(help.out()).contains("rewind-aggregator").contains("replay");
    }

    @Test
    void whileAnInstanceIsInTheGroupItRefusesWithExitCode3AndChangesNothing() throws Exception {
        Map<TopicPartition, Long> committed = commitAtEnd();
        try (var member = new KafkaConsumer<>(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, appId, ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new StringDeserializer())) {
            member.subscribe(List.of(Topics.ADMIN_COMMANDS.name()));
            while (member.assignment().isEmpty()) {
                member.poll(Duration.ofMillis(100));
            }
            Path state = Files.createDirectories(stateDir.resolve(appId).resolve("0_0"));

            for (String[] args : List.of(new String[] {"admin", "rewind-aggregator", "--month", MONTH.toString(), "--yes"},
                    new String[] {"admin", "rewind-aggregator", "--month", MONTH.toString(), "--dry-run"})) {
                Run run = meter(args);
                assertThat(run.code()).as(run.out() + run.err()).isEqualTo(3);
                assertThat(run.err()).contains("refused: the aggregator " + appId + " is running (1 active member")
                        .contains("stop every aggregator instance first").contains("Nothing was changed.");
            }
            assertThat(committed()).isEqualTo(committed);
            assertThat(state).isDirectory();
        }
    }

    @Test
    void aDryRunShowsEveryPartitionFromCommittedToNewAndChangesNothing() throws Exception {
        Map<TopicPartition, Long> committed = commitAtEnd();
        Path state = Files.createDirectories(stateDir.resolve(appId).resolve("0_0"));
        String changelog = appId + "-aggregator-monthly-summaries-changelog";
        createTopic(changelog);

        Run run = meter("admin", "rewind-aggregator", "--month", MONTH.toString(), "--dry-run");

        assertThat(run.code()).as(run.out() + run.err()).isZero();
        Map<TopicPartition, Long> target = offsetsAt(MONTH.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC)
                .minus(Duration.ofHours(48)));
        target.forEach((tp, to) -> assertThat(run.out()).contains("  " + tp.topic() + "-" + tp.partition() + ": "
                + (committed.containsKey(tp) ? committed.get(tp).toString() : "(none)") + " -> " + to + "\n"));
        assertThat(run.out()).contains("internal topics to delete: " + changelog)
                .contains(state.getParent() + " (would be removed)")
                .contains("dry run: nothing was changed");
        assertThat(committed()).isEqualTo(committed);
        assertThat(state).isDirectory();
        try (Admin admin = admin()) {
            assertThat(admin.listTopics().names().get()).contains(changelog);
        }
    }

    @Test
    void withoutYesOffATerminalItAsksForItAndChangesNothing() throws Exception {
        Map<TopicPartition, Long> committed = commitAtEnd();
        Run run = meter("admin", "rewind-aggregator", "--month", MONTH.toString());
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err()).contains("pass --yes (or --dry-run) when not at a terminal");
        assertThat(committed()).isEqualTo(committed);
    }

    @Test
    void aStoppedAggregatorIsRewoundItsChangelogsAndLocalStateRemovedAndTheNextStepsPrinted() throws Exception {
        commitAtEnd();
        Path state = Files.createDirectories(stateDir.resolve(appId).resolve("0_0"));
        String changelog = appId + "-aggregator-monthly-summaries-changelog";
        createTopic(changelog);
        YearMonth previous = MONTH.minusMonths(1);

        Run run = meter("admin", "rewind-aggregator", "--month", previous.toString(), "--yes");

        assertThat(run.code()).as(run.out() + run.err()).isZero();
        Map<TopicPartition, Long> target = offsetsAt(previous.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC)
                .minus(Duration.ofHours(48)));
        assertThat(committed()).isEqualTo(target);
        assertThat(target).as("rewound behind the end").isNotEqualTo(ends());
        assertThat(state.getParent()).doesNotExist();
        try (Admin admin = admin()) {
            assertThat(admin.listTopics().names().get()).doesNotContain(changelog);
        }
        assertThat(run.out()).contains("deleted 1 internal topics")
                .contains("METER_AGGREGATOR_PUBLISH_FROM=" + previous)
                .contains("republishes every summary from " + previous)
                .contains("the sink writes the republished summaries")
                .contains("limit checks follow");
    }

    @Test
    void aStartAfterMonthsStillReceivingLateEventsIsWarnedAbout() {
        Run run = meter("admin", "rewind-aggregator", "--month", MONTH.toString(), "--dry-run");
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        // With the default 35-day lateness bound, events for the month holding now minus 35 days may still arrive.
        // The verb reads the system clock (the in-process `meter` takes none).
        YearMonth oldestOpen = YearMonth.from(Instant.now().minus(Duration.ofDays(35)).atOffset(ZoneOffset.UTC));
        assertThat(run.out()).contains("WARNING: " + oldestOpen + " and later months still receive late events")
                .contains("--month " + oldestOpen + " or earlier");
        Run covered = meter("admin", "rewind-aggregator", "--month", MONTH.minusMonths(2).toString(), "--dry-run");
        assertThat(covered.out()).doesNotContain("WARNING");
    }

    // ---- helpers

    /** Commits the end of every input partition for the group, as a stopped aggregator that read everything has. */
    private Map<TopicPartition, Long> commitAtEnd() throws Exception {
        Map<TopicPartition, Long> ends = ends();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        ends.forEach((tp, end) -> offsets.put(tp, new OffsetAndMetadata(end)));
        try (Admin admin = admin()) {
            admin.alterConsumerGroupOffsets(appId, offsets).all().get();
        }
        return ends;
    }

    private Map<TopicPartition, Long> committed() throws Exception {
        try (Admin admin = admin()) {
            Map<TopicPartition, Long> committed = new HashMap<>();
            admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get()
                    .forEach((tp, at) -> committed.put(tp, at.offset()));
            return committed;
        }
    }

    private static Map<TopicPartition, Long> ends() throws Exception {
        return offsets(OffsetSpec.latest());
    }

    private static Map<TopicPartition, Long> offsetsAt(Instant time) throws Exception {
        Map<TopicPartition, Long> ends = ends();
        Map<TopicPartition, Long> at = offsets(OffsetSpec.forTimestamp(time.toEpochMilli()));
        at.replaceAll((tp, offset) -> offset < 0 ? ends.get(tp) : offset);
        return at;
    }

    private static Map<TopicPartition, Long> offsets(OffsetSpec spec) throws Exception {
        try (Admin admin = admin()) {
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (String topic : List.of(Topics.USAGE_EVENTS.name(), Topics.ADMIN_COMMANDS.name())) {
                admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions()
                        .forEach(p -> request.put(new TopicPartition(topic, p.partition()), spec));
            }
            Map<TopicPartition, Long> offsets = new HashMap<>();
            admin.listOffsets(request).all().get().forEach((tp, info) -> offsets.put(tp, info.offset()));
            return offsets;
        }
    }

    private static void createTopic(String name) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(name, 1, (short) 1))).all().get();
        }
    }

    private static Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
    }
}
