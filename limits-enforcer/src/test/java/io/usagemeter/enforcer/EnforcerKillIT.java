package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The enforcer's exactly-once under SIGKILL: two instances, one in a child JVM killed with {@code kill -9}
 * while the users' summaries cross 80 % and 100 % and while bonus credits and referrals arrive. Afterwards
 * the committed {@code meter.limit-events} hold exactly one event per (user, month, threshold), every answer
 * is exact, and PostgreSQL has applied each credit and referral once.
 */
class EnforcerKillIT {

    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final String APP_ID = "enforcer-kill-it-" + UUID.randomUUID();
    private static final int USERS = 30;
    private static final int STEPS = 12;
    /** Units per step: the free plan's 1000 units are crossed at 80 % on step 8 or 9, at 100 % on step 10 or 11. */
    private static final long UNITS_PER_STEP = 100;
    private static final int KILL_AFTER_STEP = 8;

    @TempDir
    static Path dir;

    private static TestStack stack;
    private static EnforcerService local;
    private static Process remote;
    private static int remotePort;

    @BeforeAll
    static void start() throws Exception {
        stack = new TestStack();
        local = new EnforcerService(stack.config(APP_ID, dir.resolve("a")), stack.dsl, TIME.clock(), new Properties())
                .start();
        try (ServerSocket socket = new ServerSocket(0)) {
            remotePort = socket.getLocalPort();
        }
        ProcessBuilder pb = stack.enforcerProcess(TIME, APP_ID, remotePort, dir.resolve("b"));
        Path log = Path.of(System.getProperty("java.io.tmpdir"), "enforcer-kill-remote.log");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        remote = pb.start();
    }

    @AfterAll
    static void stop() {
        if (remote != null) {
            remote.destroyForcibly();
        }
        if (local != null) {
            local.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void limitEventsCreditsAndReferralsApplyOnceAcrossAKill() throws Exception {
        List<UUID> users = TestStack.users(USERS);
        // Both instances up and sharing the partitions before anything is sent.
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
                .ignoreExceptionsInstanceOf(ConnectException.class).untilAsserted(() -> {
            assertThat(answer(local.port(), users.get(0))).isNotNull();
            assertThat(answer(remotePort, users.get(0))).isNotNull();
            // The killed instance must own some of the users, or the kill would test nothing.
            assertThat(users.stream().filter(EnforcerKillIT::remoteOwns).count()).isPositive()
                    .isLessThan(users.size());
        });
        // Half of the users get 50 bonus credits (the command sent twice, as a retry would); every fifth refers a
        // newcomer (+10 credits, +2 %). Every limit stays below the final usage, so both thresholds are crossed.
        Map<UUID, Long> expectedCredits = new HashMap<>();
        Map<UUID, Integer> expectedReferrals = new HashMap<>();
        List<UUID> newcomers = new ArrayList<>();
        java.util.Set<String> creditCommands = new java.util.HashSet<>();
        Map<UUID, Long> used = new HashMap<>();
        try (KafkaProducer<String, byte[]> producer = producer()) {
            for (int step = 1; step <= STEPS; step++) {
                for (UUID user : users) {
                    used.put(user, step * UNITS_PER_STEP);
                }
                stack.publishUsage(used, MONTH);
                if (step == 3 || step == 9) {
                    for (int i = 0; i < users.size(); i += 2) {
                        UUID user = users.get(i);
                        AdminCommand credits = new AdminCommand.AddBonusCredits("kill-credits-" + step + "-" + user, user,
                                25, TIME.now(), "it");
                        command(producer, credits);
                        command(producer, credits);
                        creditCommands.add(credits.commandId());
                        expectedCredits.merge(user, 25L, Long::sum);
                    }
                }
                if (step == 5 || step == 10) {
                    for (int i = step == 5 ? 0 : 15; i < users.size(); i += 10) {
                        UUID referrer = users.get(i);
                        UUID newcomer = UUID.randomUUID();
                        newcomers.add(newcomer);
                        ReferralEvent referral = new ReferralEvent("kill-ref-" + newcomer, referrer, newcomer,
                                ReferralStatus.COMPLETED, TIME.now());
                        byte[] bytes = Topics.REFERRALS.valueSerde().serializer().serialize(Topics.REFERRALS.name(), referral);
                        producer.send(new ProducerRecord<>(Topics.REFERRALS.name(), newcomer.toString(), bytes));
                        producer.send(new ProducerRecord<>(Topics.REFERRALS.name(), newcomer.toString(), bytes));
                        expectedCredits.merge(referrer, 10L, Long::sum);
                        expectedReferrals.merge(referrer, 1, Integer::sum);
                    }
                }
                producer.flush();
                Thread.sleep(300);
                if (step == KILL_AFTER_STEP) {
                    remote.destroyForcibly().waitFor();
                }
            }
            // A last credit of 1 unit per credited user: applied after everything before it for that user
            // (one partition per user), so the database is awaited on it rather than on time.
            for (UUID user : expectedCredits.keySet()) {
                AdminCommand.AddBonusCredits last = new AdminCommand.AddBonusCredits("kill-credits-last-" + user, user, 1,
                        TIME.now(), "it");
                command(producer, last);
                creditCommands.add(last.commandId());
            }
            producer.flush();
        }
        expectedCredits.replaceAll((user, credits) -> credits + 1);
        assertThat(remote.isAlive()).isFalse();

        // The survivor answers every user exactly.
        await().atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            for (UUID user : users) {
                LimitAnswer a = answer(local.port(), user);
                assertThat(a).as("user %s", user).isNotNull();
                assertThat(a.used()).isEqualTo(STEPS * UNITS_PER_STEP);
                assertThat(a.bonusCredits()).isEqualTo(expectedCredits.getOrDefault(user, 0L));
                assertThat(a.referralCount()).isEqualTo(expectedReferrals.getOrDefault(user, 0));
                assertThat(a.stale()).isFalse();
            }
        });

        // Exactly one limit event per user, month and threshold among the committed ones.
        Map<String, Integer> events = new HashMap<>();
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            events.clear();
            committedLimitEvents(users).forEach(e -> events.merge(e.userId() + " " + e.month() + " " + e.threshold(), 1,
                    Integer::sum));
            assertThat(events).hasSize(2 * USERS);
        });
        assertThat(events).allSatisfy((key, count) -> assertThat(count).as(key).isEqualTo(1));
        for (UUID user : users) {
            assertThat(events).containsKeys(user + " " + MONTH + " " + LimitEvent.WARNING_THRESHOLD,
                    user + " " + MONTH + " " + LimitEvent.EXCEEDED_THRESHOLD);
        }

        // PostgreSQL applied every credit and referral once.
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> expectedCredits.forEach((user, credits) ->
                assertThat(stack.dsl.fetchValue("SELECT bonus_credits FROM users WHERE id = ?", user)).as("credits of %s", user)
                        .isEqualTo(credits)));
        expectedReferrals.forEach((user, count) -> assertThat(
                stack.dsl.fetchValue("SELECT referral_count FROM users WHERE id = ?", user)).as("referrals of %s", user)
                .isEqualTo(count));
        assertThat(stack.dsl.fetchCount(stack.dsl.selectFrom("applied_commands").where("command_id LIKE ?", "kill-credits-%")))
                .as("one row per distinct credit command").isEqualTo(creditCommands.size());
        assertThat(stack.dsl.fetchCount(stack.dsl.selectFrom("applied_commands")
                .where("command_id LIKE ?", "referral:kill-ref-%"))).as("one row per referral").isEqualTo(newcomers.size());
    }

    private static List<LimitEvent> committedLimitEvents(List<UUID> users) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<LimitEvent> mine = new ArrayList<>();
        try (KafkaConsumer<String, LimitEvent> consumer = new KafkaConsumer<>(p,
                Topics.LIMIT_EVENTS.keySerde().deserializer(), Topics.LIMIT_EVENTS.valueSerde().deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.LIMIT_EVENTS.name()).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                assertThat(System.nanoTime()).as("read %s to %s", Topics.LIMIT_EVENTS.name(), end).isLessThan(deadline);
                for (ConsumerRecord<String, LimitEvent> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.value() != null && users.contains(r.value().userId())) {
                        mine.add(r.value());
                    }
                }
            }
        }
        return mine;
    }

    private static void command(KafkaProducer<String, byte[]> producer, AdminCommand command) {
        producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), command.userId().toString(),
                Topics.ADMIN_COMMANDS.valueSerde().serializer().serialize(Topics.ADMIN_COMMANDS.name(), command)));
    }

    private static KafkaProducer<String, byte[]> producer() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    private static boolean remoteOwns(UUID user) {
        var meta = local.streams().queryMetadataForKey(EnforcerTopology.LIMITS_STORE, user.toString(),
                Serdes.String().serializer());
        return meta.activeHost().port() == remotePort;
    }

    /** The instance's answer, or null while it is not answering. */
    private static LimitAnswer answer(int port, UUID user) throws Exception {
        HttpResponse<String> response = stack.get(port, "/v1/limits/" + user);
        return response.statusCode() == 200 ? Json.read(response.body(), LimitAnswer.class) : null;
    }
}
