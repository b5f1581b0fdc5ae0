package io.usagemeter.schema.streams;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.usagemeter.embedded.InterruptedWipe;
import io.usagemeter.embedded.TestStack;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.ProcessorStateException;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LocalStateRecovery} on the real broker, with a one-store exactly-once app: a store left
 * without its RocksDB {@code MANIFEST} (a process killed while Kafka Streams wiped it) makes a plain
 * start fail; the recovery starts on an emptied directory and the store comes back from its changelog.
 * An intact state directory is started as it is, without restoring anything.
 */
class LocalStateRecoveryTest {

    private static final String STORE = "counts";

    @TempDir
    Path stateDir;

    private final String topic = "local-state-recovery-" + UUID.randomUUID();
    private final String applicationId = "local-state-recovery-" + UUID.randomUUID();
    private final AtomicLong restored = new AtomicLong();

    @Test
    void anIntactStateIsKeptAndAnUnreadableOneIsRestoredFromTheChangelog() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                TestStack.sharedKafkaBootstrap()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        send("a", "b", "a");
        KafkaStreams first = LocalStateRecovery.start(this::newStreams, "test app");
        awaitCounts(first, Map.of("a", 2L, "b", 1L));
        close(first);

        KafkaStreams intact = LocalStateRecovery.start(this::newStreams, "test app");
        awaitCounts(intact, Map.of("a", 2L, "b", 1L));
        assertThat(restored).as("records restored on an intact state directory").hasValue(0);
        close(intact);

        InterruptedWipe.apply(stateDir);
        KafkaStreams plain = newStreams();
        assertThatThrownBy(plain::start).isInstanceOf(ProcessorStateException.class)
                .hasMessageContaining("Error opening store " + STORE);
        close(plain);

        KafkaStreams recovered = LocalStateRecovery.start(this::newStreams, "test app");
        try {
            awaitCounts(recovered, Map.of("a", 2L, "b", 1L));
            assertThat(restored).as("records restored from the changelog").hasValueGreaterThan(0);
            send("b");
            awaitCounts(recovered, Map.of("a", 2L, "b", 2L));
        } finally {
            close(recovered);
        }
    }

    /** Leaves the group, so that the next instance gets the partition at once. */
    private static void close(KafkaStreams streams) {
        streams.close(CloseOptions.timeout(Duration.ofSeconds(30))
                .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
    }

    private KafkaStreams newStreams() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(topic, Consumed.with(Serdes.String(), Serdes.String()))
                .groupBy((key, value) -> value)
                .count(Materialized.as(STORE));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, TestStack.sharedKafkaBootstrap());
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition partition, String store, long start, long end) {
            }

            @Override
            public void onBatchRestored(TopicPartition partition, String store, long batchEnd, long records) {
                restored.addAndGet(records);
            }

            @Override
            public void onRestoreEnd(TopicPartition partition, String store, long total) {
            }
        });
        return streams;
    }

    private void send(String... values) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, TestStack.sharedKafkaBootstrap());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (String value : values) {
                producer.send(new ProducerRecord<>(topic, value, value));
            }
            producer.flush();
        }
    }

    private static void awaitCounts(KafkaStreams streams, Map<String, Long> expected) {
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().untilAsserted(() -> {
            ReadOnlyKeyValueStore<String, Long> store = streams.store(
                    StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
            expected.forEach((key, count) -> assertThat(store.get(key)).as(key).isEqualTo(count));
        });
    }
}
