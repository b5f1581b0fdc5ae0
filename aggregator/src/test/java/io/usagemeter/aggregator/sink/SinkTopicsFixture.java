package io.usagemeter.aggregator.sink;

import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Topics of one test class on a broker (the shared one unless told), and a transactional producer writing to them as
 * the aggregator does. Remembers the next offset after the last committed record of each partition:
 * what the sink must end up storing.
 */
final class SinkTopicsFixture implements AutoCloseable {

    final SinkTopics topics;
    final Admin admin;
    private final KafkaProducer<byte[], byte[]> producer;
    final Map<TopicPartition, Long> committedNextOffsets = new HashMap<>();
    int committedRecords;

    private final String bootstrap;

    private SinkTopicsFixture(SinkTopics topics, Admin admin, KafkaProducer<byte[], byte[]> producer, String bootstrap) {
        this.bootstrap = bootstrap;
        this.topics = topics;
        this.admin = admin;
        this.producer = producer;
    }

    static SinkTopicsFixture create(String prefix, int partitions) throws Exception {
        return create(TestStack.sharedKafkaBootstrap(), prefix, partitions);
    }

    /**
     * The topics keep their records forever. The events carry their event time as record timestamp, as
     * ingest writes them, and the fixtures' event times are fixed dates early in 2026: with the broker's
     * default retention (7 days) a segment holding only such records is deleted at the broker's next
     * retention check (every 5 minutes), and the commit marker that follows a transaction, stamped with
     * the current time, rolls the segment at once. A reader starting from the beginning after that check
     * starts past the first transaction's events.
     */
    static SinkTopicsFixture create(String bootstrap, String prefix, int partitions) throws Exception {
        String run = prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
        SinkTopics topics = new SinkTopics(run + ".usage-summaries", run + ".usage-events", run + ".dead-letter");
        Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
        Map<String, String> keptForever = Map.of(TopicConfig.RETENTION_MS_CONFIG, "-1");
        admin.createTopics(List.of(
                new NewTopic(topics.usageSummaries(), partitions, (short) 1).configs(keptForever),
                new NewTopic(topics.usageEvents(), partitions, (short) 1).configs(keptForever),
                new NewTopic(topics.deadLetter(), 1, (short) 1).configs(keptForever))).all().get();
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, run + "-producer");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props);
        producer.initTransactions();
        return new SinkTopicsFixture(topics, admin, producer, bootstrap);
    }

    SinkConfig sinkConfig(String name) {
        return SinkConfig.defaults(bootstrap).withTopics(topics).withName(name)
                .withRetryBackoff(Duration.ofMillis(50), Duration.ofMillis(400));
    }

    ProducerRecord<byte[], byte[]> event(UsageEvent e) {
        String topic = topics.usageEvents();
        return new ProducerRecord<>(topic, null, e.occurredAt().toEpochMilli(),
                Topics.USAGE_EVENTS.keySerde().serializer().serialize(topic, e.userId().toString()),
                Topics.USAGE_EVENTS.valueSerde().serializer().serialize(topic, e));
    }

    ProducerRecord<byte[], byte[]> summary(MonthlySummary s) {
        String topic = topics.usageSummaries();
        return new ProducerRecord<>(topic,
                Topics.USAGE_SUMMARIES.keySerde().serializer().serialize(topic, s.key()),
                Topics.USAGE_SUMMARIES.valueSerde().serializer().serialize(topic, s));
    }

    /** Sends {@code records} in transactions of {@code perTransaction}, each committed. */
    void commit(List<ProducerRecord<byte[], byte[]>> records, int perTransaction) throws Exception {
        for (int from = 0; from < records.size(); from += perTransaction) {
            List<ProducerRecord<byte[], byte[]>> chunk = records.subList(from, Math.min(records.size(), from + perTransaction));
            producer.beginTransaction();
            List<Future<RecordMetadata>> sent = chunk.stream().map(producer::send).toList();
            producer.commitTransaction();
            for (Future<RecordMetadata> f : sent) {
                RecordMetadata m = f.get();
                committedNextOffsets.merge(new TopicPartition(m.topic(), m.partition()), m.offset() + 1, Math::max);
            }
            committedRecords += chunk.size();
            awaitMarkersWritten();
        }
    }

    /**
     * Waits until a read_committed reader can read up to {@link #committedNextOffsets} on every partition:
     * the commit markers of the transactions so far are written (the producer's commit returns before
     * they are), so the next transaction never overlaps the completion of the one before.
     */
    private void awaitMarkersWritten() throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        committedNextOffsets.keySet().forEach(tp -> latest.put(tp, OffsetSpec.latest()));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            var ends = admin.listOffsets(latest, new ListOffsetsOptions(
                    IsolationLevel.READ_COMMITTED)).all().get();
            if (committedNextOffsets.entrySet().stream().allMatch(e -> ends.get(e.getKey()).offset() >= e.getValue())) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("committed transactions not visible after 30 s: " + ends);
            }
            Thread.sleep(10);
        }
    }

    /**
     * The events a read_committed reader finds in the events topic, read up to {@link #committedNextOffsets}
     * by a consumer of its own: what a sink reading committed records can be asked to store.
     */
    Set<UsageEvent> committedEvents() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG,
                ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG,
                ByteArrayDeserializer.class.getName());
        Set<UsageEvent> events = new HashSet<>();
        try (var consumer = new KafkaConsumer<byte[], byte[]>(props)) {
            List<TopicPartition> partitions = committedNextOffsets.keySet().stream()
                    .filter(tp -> tp.topic().equals(topics.usageEvents())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < committedNextOffsets.get(tp))) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("cannot read " + topics.usageEvents() + " to its committed end");
                }
                consumer.poll(Duration.ofMillis(100)).forEach(r -> events.add(
                        Topics.USAGE_EVENTS.valueSerde().deserializer().deserialize(r.topic(), r.headers(), r.value())));
            }
        }
        return events;
    }

    /** Sends {@code records} in one transaction and aborts it: a read_committed sink never sees them. */
    void abort(List<ProducerRecord<byte[], byte[]>> records) throws ExecutionException, InterruptedException {
        producer.beginTransaction();
        records.forEach(producer::send);
        producer.flush();
        producer.abortTransaction();
    }

    @Override
    public void close() {
        producer.close();
        admin.close();
    }
}
