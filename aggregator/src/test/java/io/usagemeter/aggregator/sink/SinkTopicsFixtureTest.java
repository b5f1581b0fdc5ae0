package io.usagemeter.aggregator.sink;

import static io.usagemeter.aggregator.sink.SinkFixtures.events;
import static io.usagemeter.aggregator.sink.SinkFixtures.runningSummaries;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/**
 * The fixture's events carry fixed event times early in 2026 as record timestamps; the broker must not delete
 * them by retention before a test has read them. A broker of its own checks retention every 100 ms instead of
 * every 5 minutes, so the check that once hid a whole transaction from the sink happens within the test.
 */
class SinkTopicsFixtureTest {

    private static final Map<String, String> FREQUENT_RETENTION_CHECKS = Map.of(
            "log.retention.check.interval.ms", "100", "log.initial.task.delay.ms", "0");

    @Test
    void committedEventsOutliveTheBrokersRetentionChecks() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null, 0, FREQUENT_RETENTION_CHECKS);
             SinkTopicsFixture kafka = SinkTopicsFixture.create(broker.bootstrapServers(), "fixture-retention", 2)) {
            List<UsageEvent> events = events(14, 10, 150);
            List<ProducerRecord<byte[], byte[]>> records = new ArrayList<>();
            events.forEach(e -> records.add(kafka.event(e)));
            runningSummaries(events).forEach(s -> records.add(kafka.summary(s)));
            kafka.commit(records, 100);

            // A topic with the broker's default retention, written the same way: a record stamped with an
            // event time of the fixture, then one stamped now that rolls its segment, as a commit marker does.
            // Once that segment is gone, the broker has run a retention check over the fixture's topics too.
            String control = kafka.topics.usageEvents() + ".default-retention";
            TopicPartition controlPartition = new TopicPartition(control, 0);
            kafka.admin.createTopics(List.of(new NewTopic(control, 1, (short) 1))).all().get();
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName(),
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName()))) {
                producer.send(new ProducerRecord<>(control, 0, events.get(0).occurredAt().toEpochMilli(), null, new byte[1])).get();
                producer.send(new ProducerRecord<>(control, 0, Instant.now().toEpochMilli(), null, new byte[1])).get();
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> earliestOffsets(kafka, List.of(controlPartition))
                    .get(controlPartition) > 0);

            List<TopicPartition> eventPartitions = kafka.committedNextOffsets.keySet().stream()
                    .filter(tp -> tp.topic().equals(kafka.topics.usageEvents())).toList();
            assertThat(earliestOffsets(kafka, eventPartitions)).allSatisfy((tp, earliest) -> assertThat(earliest).isZero());
            assertThat(kafka.committedEvents()).isEqualTo(new HashSet<>(events));
        }
    }

    private static Map<TopicPartition, Long> earliestOffsets(SinkTopicsFixture kafka, List<TopicPartition> partitions)
            throws Exception {
        var earliest = kafka.admin.listOffsets(partitions.stream()
                .collect(Collectors.toMap(Function.identity(), tp -> OffsetSpec.earliest()))).all().get();
        return partitions.stream().collect(Collectors.toMap(Function.identity(), tp -> earliest.get(tp).offset()));
    }
}
