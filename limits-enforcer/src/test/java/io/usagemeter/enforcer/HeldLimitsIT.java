package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.enforcer.internal.LocalLimitStates;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.TaskMetadata;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The limit states an enforcer holds in memory for its read path, across rebalances and restores, with two
 * instances in this JVM on the shared broker. At every quiet point each instance holds copies exactly of partitions
 * whose task runs there, and every state a copy holds is its store's; while partitions move, every answer given is
 * the newest usage (stale or not, never an older one); the partition table answers as {@code queryMetadataForKey};
 * a plan's new units reach the answers.
 */
class HeldLimitsIT {

    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final String APP_ID = "enforcer-held-limits-it-" + UUID.randomUUID();

    @TempDir
    static Path dir;

    private static TestStack stack;
    private static final List<UUID> USERS = TestStack.users(30);

    @BeforeAll
    static void start() {
        stack = new TestStack();
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    private static EnforcerService startInstance(String name) {
        return new EnforcerService(stack.config(APP_ID, dir.resolve(name)), stack.dsl, TIME.clock(), new Properties())
                .start();
    }

    private static Map<UUID, Long> usage(long base) {
        Map<UUID, Long> usage = new HashMap<>();
        for (int i = 0; i < USERS.size(); i++) {
            usage.put(USERS.get(i), base + i);
        }
        return usage;
    }

    @Test
    void copiesFollowTheStoresAcrossRebalancesAndRestores() throws Exception {
        List<EnforcerService> running = new ArrayList<>();
        try {
            EnforcerService a = startInstance("a");
            running.add(a);
            stack.publishUsage(usage(100), MONTH);
            awaitEveryAnswer(a, usage(100));
            assertCopiesAreTheStores(a);
            assertThat(heldUsers(a)).as("reads filled the copies").containsAll(USERS);

            // A second instance joins: A hands over some of its partitions, B runs them.
            EnforcerService b = startInstance("b");
            running.add(b);
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
                assertThat(a.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);
                assertThat(b.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);
                assertThat(b.heldLimits().runningPartitions()).isNotEmpty();
                assertThat(a.heldLimits().runningPartitions()).isNotEmpty();
            });
            awaitEveryAnswer(a, usage(100));
            awaitEveryAnswer(b, usage(100));
            assertOwnersAreKafkaStreams(a);
            assertOwnersAreKafkaStreams(b);
            assertThat(a.heldLimits().runningPartitions()).doesNotContainAnyElementsOf(b.heldLimits().runningPartitions());
            assertCopiesAreTheStores(a);
            assertCopiesAreTheStores(b);
            Set<Integer> movedToB = b.heldLimits().runningPartitions();

            // New usage while the partitions are split: each instance's copies follow their own processors.
            stack.publishUsage(usage(200), MONTH);
            awaitEveryAnswer(a, usage(200));
            awaitEveryAnswer(b, usage(200));
            assertCopiesAreTheStores(a);
            assertCopiesAreTheStores(b);

            // B leaves: A runs B's partitions again, from its standby copy of their stores. Whatever it answers
            // meanwhile (from its standby, stale, or once its task runs) is the newest usage, never the one it
            // held before handing the partitions over.
            running.remove(b);
            b.close();
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
                boolean allFresh = true;
                for (UUID user : USERS) {
                    LimitAnswer answer = answer(a, user);
                    if (answer == null || answer.stale()) {
                        allFresh = false;
                    }
                    if (answer != null) {
                        assertThat(answer.used()).as("user %s", user).isEqualTo(usage(200).get(user));
                    }
                }
                assertThat(allFresh).isTrue();
                assertThat(a.heldLimits().runningPartitions()).containsAll(movedToB);
            });
            assertCopiesAreTheStores(a);
            assertOwnersAreKafkaStreams(a);

            stack.publishUsage(usage(300), MONTH);
            awaitEveryAnswer(a, usage(300));
            assertCopiesAreTheStores(a);

            // A restart restores the stores from the local state and the changelogs; the copies start from them.
            running.remove(a);
            a.close();
            EnforcerService restarted = startInstance("a");
            running.add(restarted);
            awaitEveryAnswer(restarted, usage(300));
            assertCopiesAreTheStores(restarted);
            assertNewPlanUnitsReachTheAnswer(restarted, USERS.get(0), usage(300).get(USERS.get(0)));
        } finally {
            running.forEach(EnforcerService::close);
        }
    }

    /** The answer keeps the units of a plan as they are now: a plan changed after the state was written shows. */
    private static void assertNewPlanUnitsReachTheAnswer(EnforcerService enforcer, UUID user, long used) {
        String plan = "held-it-" + Long.toHexString(System.nanoTime());
        assertThat(enforcer.queries().plan(plan)).as("not published yet").isEmpty();
        publishPlan(plan, 500);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() ->
                assertThat(enforcer.queries().plan(plan)).as("a plan missing before is found once loaded")
                        .contains(new Plan(plan, 500)));
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        try (KafkaProducer<String, AdminCommand> producer = new KafkaProducer<>(p, new StringSerializer(),
                Topics.ADMIN_COMMANDS.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), user.toString(), new AdminCommand.SetPlan(
                    "held-it-" + UUID.randomUUID(), user, plan, TIME.clock().instant(), "held-limits-it")));
        }
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            LimitAnswer answer = answer(enforcer, user);
            assertThat(answer).isNotNull();
            assertThat(answer.plan()).isEqualTo(plan);
            assertThat(answer.planUnits()).isEqualTo(500);
            assertThat(answer.effectiveLimit()).isEqualTo(500);
            assertThat(answer.used()).isEqualTo(used);
        });
        publishPlan(plan, 700);
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            LimitAnswer answer = answer(enforcer, user);
            assertThat(answer.planUnits()).isEqualTo(700);
            assertThat(answer.effectiveLimit()).isEqualTo(700);
            assertThat(answer.remaining()).isEqualTo(700 - used);
        });
    }

    private static void publishPlan(String plan, long units) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        try (KafkaProducer<String, Plan> producer = new KafkaProducer<>(p, new StringSerializer(),
                EnforcerTopics.PLAN_SERDE.serializer())) {
            producer.send(new ProducerRecord<>(EnforcerTopics.PLANS.name(), plan, new Plan(plan, units)));
        }
    }

    private static void awaitEveryAnswer(EnforcerService enforcer, Map<UUID, Long> expected) {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).untilAsserted(() -> {
            for (UUID user : USERS) {
                LimitAnswer answer = answer(enforcer, user);
                assertThat(answer).as("user %s", user).isNotNull();
                assertThat(answer.used()).as("user %s", user).isEqualTo(expected.get(user));
                assertThat(answer.stale()).as("user %s", user).isFalse();
            }
        });
    }

    /**
     * Copies are held exactly for the partitions whose active task runs here, and each state held is the store's
     * (read the documented way, partition by partition). Checked once processing is quiet, so no write is between
     * the store and its copy.
     */
    private static void assertCopiesAreTheStores(EnforcerService enforcer) {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            LocalLimitStates held = enforcer.heldLimits();
            assertThat(held.runningPartitions()).isEqualTo(runningTasks(enforcer.streams()));
            for (int partition : held.runningPartitions()) {
                ReadOnlyKeyValueStore<String, LimitState> store = enforcer.streams().store(StoreQueryParameters
                        .fromNameAndType(EnforcerTopology.LIMITS_STORE, QueryableStoreTypes.<String, LimitState>keyValueStore())
                        .withPartition(partition));
                for (Map.Entry<UUID, Optional<LimitState>> copy : held.heldIn(partition).entrySet()) {
                    assertThat(copy.getValue()).as("user %s in partition %d", copy.getKey(), partition)
                            .isEqualTo(Optional.ofNullable(store.get(copy.getKey().toString())));
                }
            }
        });
    }

    /** The partitions of the users' stores whose active task runs in this instance. */
    private static Set<Integer> runningTasks(KafkaStreams streams) {
        Set<Integer> running = new TreeSet<>();
        for (ThreadMetadata thread : streams.metadataForLocalThreads()) {
            for (TaskMetadata task : thread.activeTasks()) {
                if (task.topicPartitions().stream().anyMatch(tp -> tp.topic().equals(Topics.USAGE_SUMMARIES.name()))) {
                    running.add(task.taskId().partition());
                }
            }
        }
        return running;
    }

    /** The partition table, built now, says for every user what Kafka Streams says. */
    private static void assertOwnersAreKafkaStreams(EnforcerService enforcer) {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            var owners = new io.usagemeter.enforcer.internal.PartitionOwners(EnforcerTopology.LIMITS_STORE,
                    EnforcerTopology.userStoreSourceTopics(APP_ID));
            for (UUID user : USERS) {
                KeyQueryMetadata streams = enforcer.streams().queryMetadataForKey(EnforcerTopology.LIMITS_STORE,
                        user.toString(), Serdes.String().serializer());
                assertThat(owners.of(user, enforcer.streams())).as("user %s", user).isEqualTo(streams);
            }
        });
    }

    private static Set<UUID> heldUsers(EnforcerService enforcer) {
        Set<UUID> held = new java.util.HashSet<>();
        for (int partition : enforcer.heldLimits().runningPartitions()) {
            held.addAll(enforcer.heldLimits().heldIn(partition).keySet());
        }
        return held;
    }

    /** The instance's answer, or null while it answers none (503). */
    private static LimitAnswer answer(EnforcerService enforcer, UUID user) throws Exception {
        HttpResponse<String> response = stack.get(enforcer.port(), "/v1/limits/" + user);
        return response.statusCode() == 200 ? Json.read(response.body(), LimitAnswer.class) : null;
    }
}
