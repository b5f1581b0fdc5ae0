package io.usagemeter.schema.topics;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The bootstrapper against a real broker; the create-then-nothing-to-do test has a broker of its own, so it sees an empty cluster. */
class TopicBootstrapperTest {

    static TestStack broker;

    @BeforeAll
    static void startBroker() {
        broker = TestStack.start();
    }

    @AfterAll
    static void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    static Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.kafkaBootstrap()));
    }

    @Test
    void createsEveryTopicThenHasNothingToDoThenReportsDriftWithoutAltering() throws Exception {
        try (TestStack empty = TestStack.start();
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, empty.kafkaBootstrap()))) {
            TopicSettings settings = TopicSettings.singleBroker();

            BootstrapReport first = TopicBootstrapper.bootstrap(admin, settings);
            assertThat(first.created()).containsExactlyInAnyOrderElementsOf(
                    Topics.all().stream().map(Topic::name).toList());
            assertThat(first.drifted()).isEmpty();

            Map<ConfigResource, org.apache.kafka.clients.admin.Config> configs = admin.describeConfigs(List.of(
                    new ConfigResource(ConfigResource.Type.TOPIC, Topics.USAGE_SUMMARIES.name()),
                    new ConfigResource(ConfigResource.Type.TOPIC, Topics.USAGE_EVENTS.name()))).all().get();
            assertThat(configs.get(new ConfigResource(ConfigResource.Type.TOPIC, Topics.USAGE_SUMMARIES.name()))
                    .get("cleanup.policy").value()).isEqualTo("compact");
            assertThat(configs.get(new ConfigResource(ConfigResource.Type.TOPIC, Topics.USAGE_EVENTS.name()))
                    .get("retention.ms").value()).isEqualTo(Long.toString(Duration.ofDays(62).toMillis()));
            assertThat(admin.describeTopics(List.of(Topics.USAGE_EVENTS.name())).allTopicNames().get()
                    .get(Topics.USAGE_EVENTS.name()).partitions()).hasSize(TopicSettings.DEFAULT_PARTITIONS);

            BootstrapReport second = TopicBootstrapper.bootstrap(admin, settings);
            assertThat(second.nothingToDo()).isTrue();
            assertThat(second.unchanged()).hasSize(Topics.all().size());

            // Asking for 12 partitions and 90 days of a topic that exists with 6 and 62: reported, not applied.
            TopicSettings bigger = new TopicSettings(12, (short) 1, 1, Duration.ofDays(90));
            BootstrapReport third = TopicBootstrapper.bootstrap(admin, bigger);
            assertThat(third.created()).isEmpty();
            assertThat(third.drifted()).extracting(BootstrapReport.TopicDrift::topic)
                    .containsExactlyInAnyOrderElementsOf(Topics.all().stream().map(Topic::name).toList());
            BootstrapReport.TopicDrift usageDrift = third.drifted().stream()
                    .filter(d -> d.topic().equals(Topics.USAGE_EVENTS.name())).findFirst().orElseThrow();
            assertThat(usageDrift.differences()).containsExactlyInAnyOrder(
                    new BootstrapReport.Difference("partitions", "12", "6"),
                    new BootstrapReport.Difference("retention.ms",
                            Long.toString(Duration.ofDays(90).toMillis()), Long.toString(Duration.ofDays(62).toMillis())));
            assertThat(admin.describeTopics(List.of(Topics.USAGE_EVENTS.name())).allTopicNames().get()
                    .get(Topics.USAGE_EVENTS.name()).partitions()).hasSize(6);
        }
    }

    @Test
    void aHandMadeTopicWithOtherConfigIsReportedNotAltered() throws Exception {
        Topic<String, UsageEvent> handMade = Topics.USAGE_EVENTS.withPartitions(2);
        Topic<String, UsageEvent> defined = new Topic<>("hand-made-usage", handMade.keySerde(), handMade.valueSerde(),
                4, Topic.CleanupPolicy.COMPACT, null, 1, Map.of());
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic("hand-made-usage", 2, (short) 1)
                    .configs(Map.of("cleanup.policy", "delete", "retention.ms", "3600000")))).all().get();

            BootstrapReport report = new TopicBootstrapper(admin, (short) 1).bootstrap(List.of(defined));

            assertThat(report.created()).isEmpty();
            assertThat(report.drifted()).singleElement().satisfies(drift -> {
                assertThat(drift.topic()).isEqualTo("hand-made-usage");
                assertThat(drift.differences()).containsExactlyInAnyOrder(
                        new BootstrapReport.Difference("partitions", "4", "2"),
                        new BootstrapReport.Difference("cleanup.policy", "compact", "delete"),
                        new BootstrapReport.Difference("retention.ms", "-1", "3600000"));
            });
            var config = admin.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, "hand-made-usage")))
                    .all().get().values().iterator().next();
            assertThat(config.get("cleanup.policy").value()).isEqualTo("delete");
            assertThat(config.get("retention.ms").value()).isEqualTo("3600000");
        }
    }

    @Test
    void usageEventsTravelThroughTheRegistryDefinition() throws Exception {
        try (Admin admin = admin()) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        Topic<String, UsageEvent> topic = Topics.USAGE_EVENTS;
        UsageEvent event = new UsageEvent("evt-it", UUID.randomUUID(), Instant.parse("2025-01-15T10:00:00Z"),
                Provider.GEMINI, "/v1/models", "GET", 200, 10, 100, 200, 0, 1);
        try (KafkaProducer<String, UsageEvent> producer = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.kafkaBootstrap(), ProducerConfig.ACKS_CONFIG, "all"),
                topic.keySerde().serializer(), topic.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(topic.name(), null, event.occurredAt().toEpochMilli(),
                    event.userId().toString(), event)).get();
        }
        try (KafkaConsumer<String, UsageEvent> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.kafkaBootstrap(),
                ConsumerConfig.GROUP_ID_CONFIG, "it-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                topic.keySerde().deserializer(), topic.valueSerde().deserializer())) {
            consumer.subscribe(List.of(topic.name()));
            ConsumerRecord<String, UsageEvent> received = null;
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (received == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, UsageEvent> record : consumer.poll(Duration.ofMillis(200))) {
                    received = record;
                }
            }
            assertThat(received).isNotNull();
            assertThat(received.value()).isEqualTo(event);
            assertThat(received.key()).isEqualTo(event.userId().toString());
            assertThat(received.timestamp()).isEqualTo(event.occurredAt().toEpochMilli());
        }
    }

    @Test
    void replicationLeftUnsetFollowsTheClusterAsked() throws Exception {
        try (Admin admin = admin()) {
            TopicSettings resolved = TopicBootstrapper.resolve(admin, TopicSettings.fromEnv(Map.of()));
            assertThat(resolved).isEqualTo(TopicSettings.singleBroker());
            String name = "auto-replication-" + UUID.randomUUID();
            Topic<String, String> topic = new Topic<>(name, org.apache.kafka.common.serialization.Serdes.String(),
                    org.apache.kafka.common.serialization.Serdes.String(), 1, Topic.CleanupPolicy.DELETE, null, 1, Map.of());
            BootstrapReport report = new TopicBootstrapper(admin, TopicSettings.AUTO).bootstrap(List.of(topic));
            assertThat(report.created()).containsExactly(name);
            assertThat(admin.describeTopics(List.of(name)).allTopicNames().get().get(name)
                    .partitions().get(0).replicas()).hasSize(1);
        }
    }
}
