package io.usagemeter.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.KafkaStorageException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.server.fault.ProcessTerminatingFaultHandler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaBrokerTest {

    @Test
    void producesAndConsumesWithAcksAllAndIdempotence() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            createTopic(broker, "round-trip", 3);
            produce(broker, "round-trip", List.of("a", "b", "c"));
            assertThat(consumeAll(broker, "round-trip", 3)).containsExactlyInAnyOrder("a", "b", "c");
        }
    }

    @Test
    void topicsAreNeverAutoCreated() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(); Admin admin = admin(broker)) {
            assertThatThrownBy(() -> admin.describeTopics(List.of("no-such-topic")).allTopicNames().get())
                    .isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(UnknownTopicOrPartitionException.class);
            try (KafkaConsumer<String, String> consumer = consumer(broker)) {
                consumer.assign(List.of(new TopicPartition("no-such-topic", 0)));
                consumer.poll(Duration.ofMillis(500));
            }
            assertThat(admin.listTopics().names().get()).doesNotContain("no-such-topic");
        }
    }

    @Test
    void stopAndRestartKeepTopicsRecordsAndThePortForConnectedClients(@TempDir Path dir) throws Exception {
        Path dataDir = dir.resolve("kafka");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, 0);
             KafkaProducer<String, String> producer = producer(broker)) {
            createTopic(broker, "durable", 2);
            producer.send(new ProducerRecord<>("durable", "k1", "before")).get();
            int port = broker.port();

            broker.stop();
            assertThat(broker.isRunning()).isFalse();
            broker.restart();

            assertThat(broker.port()).isEqualTo(port);
            // The producer created before the restart reconnects to the same address by itself.
            producer.send(new ProducerRecord<>("durable", "k2", "after")).get();
            assertThat(consumeAll(broker, "durable", 2)).containsExactlyInAnyOrder("before", "after");
        }
        assertThat(dataDir).exists();
    }

    @Test
    void aNewBrokerOnTheSameDataDirectoryAndPortSeesTheOldData(@TempDir Path dir) throws Exception {
        Path dataDir = dir.resolve("kafka");
        int port;
        try (EmbeddedKafkaBroker first = EmbeddedKafkaBroker.start(dataDir, 0)) {
            port = first.port();
            createTopic(first, "kept", 1);
            produce(first, "kept", List.of("x", "y"));
        }
        try (EmbeddedKafkaBroker second = EmbeddedKafkaBroker.start(dataDir, port)) {
            assertThat(second.bootstrapServers()).isEqualTo("localhost:" + port);
            assertThat(consumeAll(second, "kept", 2)).containsExactly("x", "y");
        }
    }

    @Test
    void twoBrokersRunSideBySideInOneJvm() throws Exception {
        try (EmbeddedKafkaBroker one = EmbeddedKafkaBroker.start(); EmbeddedKafkaBroker two = EmbeddedKafkaBroker.start()) {
            assertThat(one.port()).isNotEqualTo(two.port());
            createTopic(one, "only-on-one", 1);
            createTopic(two, "only-on-two", 1);
            produce(one, "only-on-one", List.of("1"));
            produce(two, "only-on-two", List.of("2"));
            assertThat(consumeAll(one, "only-on-one", 1)).containsExactly("1");
            assertThat(consumeAll(two, "only-on-two", 1)).containsExactly("2");
            try (Admin admin = admin(two)) {
                assertThat(admin.listTopics().names().get()).contains("only-on-two").doesNotContain("only-on-one");
            }
        }
    }

    @Test
    void closingATemporaryBrokerDeletesItsData() {
        Path dataDir;
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            dataDir = broker.dataDir();
            assertThat(dataDir.resolve("logs")).isDirectory();
        }
        assertThat(Files.exists(dataDir)).isFalse();
    }

    @Test
    void aFatalFaultIsHandedToTheHandlerWithItsRootCauseInsteadOfHaltingTheJvm() throws Exception {
        CompletableFuture<String> reported = new CompletableFuture<>();
        EmbeddedKafkaBroker.onFatalFault(reported::complete);
        try {
            // Kafka's own handler, as the raft IO thread calls it when the metadata log cannot be flushed.
            new ProcessTerminatingFaultHandler.Builder().setShouldHalt(true).build().handleFault(
                    "Unexpected error in raft IO thread", new KafkaStorageException("Error while flushing log",
                            new FileSystemException("/data/__cluster_metadata-0/0.index", null, "Too many open files")));

            assertThat(reported.get(10, TimeUnit.SECONDS)).isEqualTo("Unexpected error in raft IO thread: "
                    + "FileSystemException: /data/__cluster_metadata-0/0.index: Too many open files");
        } finally {
            EmbeddedKafkaBroker.haltOnFatalFault();
        }
    }

    @Test
    void sharedBrokerIsOnePerJvm() {
        EmbeddedKafkaBroker shared = SharedEmbeddedKafka.get();
        assertThat(SharedEmbeddedKafka.get()).isSameAs(shared);
        assertThat(shared.isRunning()).isTrue();
        assertThat(SharedEmbeddedKafka.bootstrapServers()).isEqualTo(shared.bootstrapServers());
    }

    static Admin admin(EmbeddedKafkaBroker broker) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
    }

    static void createTopic(EmbeddedKafkaBroker broker, String topic, int partitions) throws Exception {
        try (Admin admin = admin(broker)) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
        }
    }

    static KafkaProducer<String, String> producer(EmbeddedKafkaBroker broker) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
        return new KafkaProducer<>(props, new StringSerializer(), new StringSerializer());
    }

    static void produce(EmbeddedKafkaBroker broker, String topic, List<String> values) throws Exception {
        try (KafkaProducer<String, String> producer = producer(broker)) {
            for (String value : values) {
                producer.send(new ProducerRecord<>(topic, value, value)).get();
            }
        }
    }

    static KafkaConsumer<String, String> consumer(EmbeddedKafkaBroker broker) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "test-" + UUID.randomUUID());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        return new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer());
    }

    /** Reads {@code topic} from the start until {@code expected} values arrived (the test's timeout bounds it). */
    static List<String> consumeAll(EmbeddedKafkaBroker broker, String topic, int expected) {
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = consumer(broker)) {
            consumer.subscribe(Set.of(topic));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (values.size() < expected && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    values.add(record.value());
                }
            }
        }
        return values;
    }
}
