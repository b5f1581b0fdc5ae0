package io.usagemeter.clients;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.lang.reflect.RecordComponent;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * What the tests of the clients (here, and over HTTP in ingest's {@code UsageClientHttpIT}) send and how they
 * check it arrived: events of one run, the same event as a record of another class loader, and the read-back
 * of {@code meter.usage-events}.
 */
public final class ClientFixtures {

    private ClientFixtures() {
    }

    /** {@code count} valid events of twenty users whose ids share {@code run}'s high bits; ids start with {@code run}. */
    public static List<UsageEvent> events(UUID run, int count) {
        Instant base = Instant.now().minusSeconds(60).truncatedTo(ChronoUnit.MILLIS);
        List<UsageEvent> events = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            UUID user = new UUID(run.getMostSignificantBits(), i % 20);
            events.add(new UsageEvent(run + "-" + i, user, base.plusMillis(i), Provider.values()[i % 5],
                    "/v1/endpoint/" + (i % 7), "POST", 200 + (i % 3) * 100, i % 500, 300, 1200, i % 100, 1 + i % 3));
        }
        return events;
    }

    /** {@code event} as an instance of {@code eventClass}: the same record loaded by another class loader. */
    public static Object copyInto(Class<?> eventClass, UsageEvent event) throws ReflectiveOperationException {
        RecordComponent[] components = eventClass.getRecordComponents();
        Object[] values = new Object[components.length];
        Class<?>[] types = new Class<?>[components.length];
        for (int i = 0; i < components.length; i++) {
            types[i] = components[i].getType();
            Object value = UsageEvent.class.getMethod(components[i].getName()).invoke(event);
            values[i] = value instanceof Provider p ? enumConstant(types[i], p.name()) : value;
        }
        return eventClass.getDeclaredConstructor(types).newInstance(values);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object enumConstant(Class<?> type, String name) {
        return Enum.valueOf((Class) type, name);
    }

    /**
     * Every event of {@code sent} is in {@code meter.usage-events} (read committed, within 30 s) exactly as sent,
     * keyed by its user and stamped with its event time.
     */
    public static void assertDelivered(String bootstrap, UUID run, List<UsageEvent> sent) {
        Map<String, ConsumerRecord<String, UsageEvent>> byId = new HashMap<>();
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        var topic = Topics.USAGE_EVENTS;
        try (var consumer = new KafkaConsumer<>(props, topic.keySerde().deserializer(), topic.valueSerde().deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic.name()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (byId.size() < sent.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, UsageEvent> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.value().eventId().startsWith(run.toString())) {
                        byId.put(record.value().eventId(), record);
                    }
                }
            }
        }
        assertThat(byId).hasSize(sent.size());
        for (UsageEvent e : sent) {
            ConsumerRecord<String, UsageEvent> record = byId.get(e.eventId());
            assertThat(record.value()).isEqualTo(e);
            assertThat(record.key()).isEqualTo(e.userId().toString());
            assertThat(record.timestamp()).isEqualTo(e.occurredAt().toEpochMilli());
        }
    }
}
