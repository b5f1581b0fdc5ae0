package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code meter admin add-credits | set-plan} straight to Kafka: one command per call, keyed by user, with its id. */
class AdminVerbsCommandTest {

    static String bootstrap;

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void topics() {
        bootstrap = TestStack.sharedKafkaBootstrap();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.fromEnv(Map.of()));
        }
    }

    static Run meter(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Meter.commandLine(Map.of("METER_KAFKA_BOOTSTRAP", bootstrap));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void addCreditsAndSetPlanArePublishedKeyedByUserWithTheirCommandIds() {
        UUID user = UUID.randomUUID();
        Run credits = meter("admin", "add-credits", user.toString(), "50", "--command-id", "credits-" + user, "--via", "direct");
        assertThat(credits.code()).as(credits.out() + credits.err()).isZero();
        assertThat(credits.err()).contains("via Kafka");
        Run plan = meter("admin", "set-plan", user.toString(), "pro", "--command-id", "plan-" + user, "--via", "direct");
        assertThat(plan.code()).as(plan.out() + plan.err()).isZero();

        List<ConsumerRecord<String, AdminCommand>> mine = commandsFor(user, 2);
        assertThat(mine).allSatisfy(r -> assertThat(r.key()).isEqualTo(user.toString()));
        assertThat(mine).extracting(ConsumerRecord::value).anySatisfy(c -> {
            assertThat(c).isInstanceOf(AdminCommand.AddBonusCredits.class);
            assertThat(((AdminCommand.AddBonusCredits) c).amount()).isEqualTo(50);
            assertThat(((AdminCommand.AddBonusCredits) c).commandId()).isEqualTo("credits-" + user);
        });
        assertThat(mine).extracting(ConsumerRecord::value).anySatisfy(c -> {
            assertThat(c).isInstanceOf(AdminCommand.SetPlan.class);
            assertThat(((AdminCommand.SetPlan) c).plan()).isEqualTo("pro");
        });
    }

    @Test
    void aNonPositiveAmountIsRefusedInOneLineAndNothingIsPublished() {
        UUID user = UUID.randomUUID();
        Map<TopicPartition, Long> before = endOffsets();
        Run run = meter("admin", "add-credits", user.toString(), "0", "--via", "direct");
        assertThat(run.code()).isEqualTo(1);
        assertThat(run.err().strip()).contains("amount").contains("must be within 1 and 1000000000").doesNotContain("\n");
        assertThat(publishedSince(before, user)).isEmpty();
    }

    /** The verbs refuse what the admin routes refuse, with the same checks, before anything is sent. */
    @Test
    void valuesOutOfBoundsAreRefusedNamingTheFieldAndNothingIsPublished() {
        UUID user = UUID.randomUUID();
        Map<TopicPartition, Long> before = endOffsets();
        Run tooMany = meter("admin", "add-credits", user.toString(), "9223372036854775807", "--via", "direct");
        assertThat(tooMany.code()).isEqualTo(1);
        assertThat(tooMany.err()).contains("amount").contains("1000000000");
        Run badPlan = meter("admin", "set-plan", user.toString(), "Pro Plan!", "--via", "direct");
        assertThat(badPlan.code()).isEqualTo(1);
        assertThat(badPlan.err()).contains("plan");
        Run longId = meter("admin", "add-credits", user.toString(), "5", "--command-id", "x".repeat(201), "--via", "direct");
        assertThat(longId.code()).isEqualTo(1);
        assertThat(longId.err()).contains("command_id").contains("200");
        Run oldMonth = meter("admin", "reset-usage", user.toString(), "--month", "2020-01", "--via", "direct");
        assertThat(oldMonth.code()).isEqualTo(1);
        assertThat(oldMonth.err()).contains("reset horizon").contains("meter admin replay --month 2020-01");
        assertThat(publishedSince(before, user)).isEmpty();
    }

    private static List<ConsumerRecord<String, AdminCommand>> commandsFor(UUID user, int expected) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "admin-verbs-test-" + UUID.randomUUID());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ConsumerRecord<String, AdminCommand>> mine = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(props, new StringDeserializer(),
                Topics.ADMIN_COMMANDS.valueSerde().deserializer())) {
            consumer.subscribe(List.of(Topics.ADMIN_COMMANDS.name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && mine.size() < expected) {
                for (ConsumerRecord<String, AdminCommand> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.value() != null && r.value().userId().equals(user)) {
                        mine.add(r);
                    }
                }
            }
        }
        return mine;
    }

    /** The admin commands topic's end offsets now (every record written, committed or not). */
    private static Map<TopicPartition, Long> endOffsets() {
        try (var consumer = rawConsumer()) {
            return consumer.endOffsets(partitions(consumer));
        }
    }

    /**
     * Every record about {@code user} written to the admin commands topic between {@code from} and its end
     * offsets now. The verbs return after their send is acknowledged, so what they published is below those
     * offsets: nothing is left to chance or to a poll timeout.
     */
    private static List<AdminCommand> publishedSince(Map<TopicPartition, Long> from, UUID user) {
        List<AdminCommand> mine = new ArrayList<>();
        try (var consumer = rawConsumer()) {
            List<TopicPartition> partitions = partitions(consumer);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            consumer.assign(partitions);
            partitions.forEach(tp -> consumer.seek(tp, from.getOrDefault(tp, 0L)));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                assertThat(System.nanoTime()).as("read up to %s", end).isLessThan(deadline);
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.offset() < end.get(new TopicPartition(r.topic(), r.partition())) && r.value() != null) {
                        AdminCommand command = Topics.ADMIN_COMMANDS.valueSerde().deserializer()
                                .deserialize(r.topic(), r.value());
                        if (user.toString().equals(r.key()) || command.userId().equals(user)) {
                            mine.add(command);
                        }
                    }
                }
            }
        }
        return mine;
    }

    private static KafkaConsumer<String, byte[]> rawConsumer() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        return new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
    }

    private static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer) {
        return consumer.partitionsFor(Topics.ADMIN_COMMANDS.name()).stream()
                .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
    }
}
