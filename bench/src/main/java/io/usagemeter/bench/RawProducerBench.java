package io.usagemeter.bench;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.BootstrapReport;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.time.Instant;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The throughput ceiling: a bare {@link KafkaProducer} writing pre-serialised usage events (about
 * 300 bytes of JSON each) to {@code meter.usage-events} on the in-process broker, with the
 * production settings (acks=all, idempotent, lz4, linger 5 ms, 256 KiB batches). Every other
 * benchmark (ingest, streams) is compared to this number.
 *
 * <p>Usage: {@code RawProducerBench [records=2000000] [users=10000]}. Payloads are built once so
 * the loop measures the producer and broker, not Jackson; they are real event JSON, so lz4 sees
 * realistic redundancy.
 */
public final class RawProducerBench {

    private static final int WARM_UP_RECORDS = 200_000;

    private RawProducerBench() {
    }

    public static void main(String[] args) throws Exception {
        int records = args.length > 0 ? Integer.parseInt(args[0]) : 2_000_000;
        int users = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;

        String[] keys = new String[users];
        byte[][] payloads = new byte[users][];
        long payloadBytes = 0;
        for (int i = 0; i < users; i++) {
            UUID user = new UUID(0x6f1c3a2e8d4b4c1aL, 0x9e2f000000000000L + i);
            keys[i] = user.toString();
            UsageEvent event = new UsageEvent("evt-" + UUID.randomUUID(), user, Instant.parse("2025-01-15T10:00:00.123Z"),
                    Provider.values()[i % Provider.values().length], "/v1/chat/completions",
                    "POST", 200, 842, 1_200, 5_400, 1_350, 1);
            payloads[i] = Topics.USAGE_EVENTS.valueSerde().serializer().serialize(Topics.USAGE_EVENTS.name(), event);
            payloadBytes += payloads[i].length;
        }
        System.out.printf("payload: %d bytes on average (usage event JSON), %d user keys%n", payloadBytes / users, users);

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start()) {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
                BootstrapReport report = TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
                System.out.printf("topics created: %s%n", report.created());
            }
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(producerProps(broker.bootstrapServers()),
                    new StringSerializer(), new ByteArraySerializer())) {
                send(producer, Topics.USAGE_EVENTS.name(), keys, payloads, WARM_UP_RECORDS);
                long nanos = send(producer, Topics.USAGE_EVENTS.name(), keys, payloads, records);
                double seconds = nanos / 1e9;
                double averageBytes = (double) payloadBytes / users;
                System.out.printf("raw producer: %,d records in %.2f s = %,.0f rec/s (%.1f MB/s of payload)%n",
                        records, seconds, records / seconds, records * averageBytes / seconds / 1e6);
            }
        }
    }

    /** Sends {@code records} to {@code topic} and waits for every acknowledgement; returns the elapsed nanoseconds. */
    static long send(KafkaProducer<String, byte[]> producer, String topic, String[] keys, byte[][] payloads,
            int records) {
        AtomicLong failed = new AtomicLong();
        AtomicReference<Exception> firstFailure = new AtomicReference<>();
        Callback callback = (metadata, exception) -> {
            if (exception != null) {
                failed.incrementAndGet();
                firstFailure.compareAndSet(null, exception);
            }
        };
        long timestamp = Instant.parse("2025-01-15T10:00:00Z").toEpochMilli();
        long started = System.nanoTime();
        for (int i = 0; i < records; i++) {
            int user = i % keys.length;
            producer.send(new ProducerRecord<>(topic, null, timestamp, keys[user], payloads[user]), callback);
        }
        producer.flush();
        long elapsed = System.nanoTime() - started;
        if (failed.get() > 0) {
            throw new IllegalStateException(failed.get() + " sends failed", firstFailure.get());
        }
        return elapsed;
    }

    static Properties producerProps(String bootstrapServers) {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(256 * 1024));
        props.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(64L * 1024 * 1024));
        return props;
    }
}
