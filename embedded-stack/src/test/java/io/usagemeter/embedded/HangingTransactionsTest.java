package io.usagemeter.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.requests.ProduceRequest;
import org.apache.kafka.common.requests.ProduceResponse;
import org.apache.kafka.common.requests.TransactionResult;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A hanging transaction is built the way a killed broker leaves one: a transaction the coordinator has
 * completed, and on one partition records of that producer and epoch that no marker closed. The records
 * are written with a plain Produce request while the broker does not verify transactional writes, so
 * the coordinator never hears of the partition.
 */
class HangingTransactionsTest {

    private static final Map<String, String> UNVERIFIED_WRITES = Map.of("transaction.partition.verification.enable", "false");

    @ParameterizedTest(name = "transactions version {0}")
    @ValueSource(shorts = {1, 2})
    void a_transaction_the_coordinator_committed_is_committed_where_its_marker_is_missing(short version) throws Exception {
        try (EmbeddedKafkaBroker broker = start(version); Admin admin = admin(broker)) {
            TopicPartition hanging = hangingTransaction(broker, admin, "committed", TransactionResult.COMMIT);
            assertThat(stableEnd(admin, hanging)).as("read_committed readers wait at the open transaction").isZero();

            HangingTransactions.Outcome outcome = HangingTransactions.complete(admin);

            assertThat(outcome.undecided()).isEmpty();
            assertThat(outcome.completed()).singleElement().satisfies(completion -> {
                assertThat(completion.transactionalId()).isEqualTo("committed");
                assertThat(completion.result()).isEqualTo(TransactionResult.COMMIT);
                assertThat(completion.partitions()).containsExactly(hanging);
            });
            assertThat(readCommitted(broker, hanging)).containsExactly("left open");
            assertThat(openTransactions(admin, hanging)).isZero();
        }
    }

    @Test
    void a_transaction_the_coordinator_aborted_is_aborted_where_its_marker_is_missing() throws Exception {
        try (EmbeddedKafkaBroker broker = start((short) 1); Admin admin = admin(broker)) {
            TopicPartition hanging = hangingTransaction(broker, admin, "aborted", TransactionResult.ABORT);

            HangingTransactions.Outcome outcome = HangingTransactions.complete(admin);

            assertThat(outcome.completed()).singleElement()
                    .satisfies(completion -> assertThat(completion.result()).isEqualTo(TransactionResult.ABORT));
            assertThat(stableEnd(admin, hanging)).as("past the records and the marker").isEqualTo(2);
            assertThat(readCommitted(broker, hanging)).isEmpty();
        }
    }

    @Test
    void an_ongoing_transaction_is_left_to_its_producer() throws Exception {
        try (EmbeddedKafkaBroker broker = start((short) 1); Admin admin = admin(broker)) {
            createTopic(admin, "ongoing");
            try (KafkaProducer<String, String> producer = transactional(broker, "ongoing")) {
                producer.initTransactions();
                producer.beginTransaction();
                producer.send(new ProducerRecord<>("ongoing", 0, null, "in flight")).get();

                HangingTransactions.Outcome outcome = HangingTransactions.complete(admin);

                assertThat(outcome.completed()).isEmpty();
                assertThat(outcome.undecided()).isEmpty();
                assertThat(openTransactions(admin, new TopicPartition("ongoing", 0))).isOne();
                producer.commitTransaction();
            }
            assertThat(readCommitted(broker, new TopicPartition("ongoing", 0))).containsExactly("in flight");
        }
    }

    @Test
    void a_broker_started_again_on_its_data_ends_what_was_left_open() throws Exception {
        try (EmbeddedKafkaBroker broker = start((short) 1)) {
            TopicPartition hanging;
            try (Admin admin = admin(broker)) {
                hanging = hangingTransaction(broker, admin, "restarted", TransactionResult.COMMIT);
            }
            broker.stop();
            broker.restart();
            try (Admin admin = admin(broker)) {
                assertThat(openTransactions(admin, hanging)).isZero();
            }
            assertThat(readCommitted(broker, hanging)).containsExactly("left open");
        }
    }

    private static EmbeddedKafkaBroker start(short transactionsVersion) {
        return EmbeddedKafkaBroker.start(null, 0, UNVERIFIED_WRITES, Map.of("transaction.version", transactionsVersion));
    }

    /**
     * Ends one transaction of {@code transactionalId} on partition 1 the normal way, then writes records of
     * the same producer and epoch to partition 0, which that transaction never added.
     */
    private static TopicPartition hangingTransaction(EmbeddedKafkaBroker broker, Admin admin, String transactionalId,
                                                     TransactionResult result) throws Exception {
        createTopic(admin, transactionalId);
        try (KafkaProducer<String, String> producer = transactional(broker, transactionalId)) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(transactionalId, 1, null, "marked")).get();
            if (result == TransactionResult.COMMIT) {
                producer.commitTransaction();
            } else {
                producer.abortTransaction();
            }
        }
        TransactionDescription ended = admin.describeTransactions(List.of(transactionalId)).all().get().get(transactionalId);
        short versionStep = (short) (admin.describeFeatures().featureMetadata().get().finalizedFeatures()
                .get("transaction.version").maxVersionLevel() >= 2 ? 1 : 0);
        short transactionEpoch = (short) (ended.producerEpoch() - versionStep);
        TopicPartition hanging = new TopicPartition(transactionalId, 0);
        ProduceRequestData data = new ProduceRequestData()
                .setTransactionalId(transactionalId)
                .setAcks((short) -1)
                .setTimeoutMs(30_000);
        data.topicData().add(new ProduceRequestData.TopicProduceData()
                .setName(hanging.topic())
                .setPartitionData(List.of(new ProduceRequestData.PartitionProduceData()
                        .setIndex(hanging.partition())
                        .setRecords(MemoryRecords.withTransactionalRecords(Compression.NONE, ended.producerId(),
                                transactionEpoch, 0, new SimpleRecord("left open".getBytes()))))));
        short version = ProduceRequest.LAST_STABLE_VERSION_BEFORE_TRANSACTION_V2;
        ProduceResponse response = (ProduceResponse) KafkaWire.exchange(new Node(1, "localhost", broker.port()),
                ApiKeys.PRODUCE, version, ProduceRequest.builder(data, true));
        assertThat(response.data().responses()).allSatisfy(topic -> assertThat(topic.partitionResponses())
                .allSatisfy(partition -> assertThat(Errors.forCode(partition.errorCode())).isEqualTo(Errors.NONE)));
        assertThat(openTransactions(admin, hanging)).isOne();
        return hanging;
    }

    private static long stableEnd(Admin admin, TopicPartition partition) throws Exception {
        return admin.listOffsets(Map.of(partition, OffsetSpec.latest()),
                new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get().get(partition).offset();
    }

    private static long openTransactions(Admin admin, TopicPartition partition) throws Exception {
        return admin.describeProducers(List.of(partition)).all().get().get(partition).activeProducers().stream()
                .filter(producer -> producer.currentTransactionStartOffset().isPresent())
                .count();
    }

    private static List<String> readCommitted(EmbeddedKafkaBroker broker, TopicPartition partition) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<String> values = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (consumer.position(partition) < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    values.add(record.value());
                }
            }
            assertThat(consumer.position(partition)).as("a read_committed reader reaches the end").isEqualTo(end);
        }
        return values;
    }

    private static KafkaProducer<String, String> transactional(EmbeddedKafkaBroker broker, String transactionalId) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(props);
    }

    private static void createTopic(Admin admin, String name) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, 2, (short) 1))).all().get();
    }

    private static Admin admin(EmbeddedKafkaBroker broker) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
    }
}
