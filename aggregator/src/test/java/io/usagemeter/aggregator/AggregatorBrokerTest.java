package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.aggregator.internal.UserPartitioner;
import io.usagemeter.embedded.SharedEmbeddedKafka;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real aggregator on the embedded broker with exactly-once: tens of thousands of random
 * events with resends and late arrivals, a few resets and one poison pill; the summaries on the
 * topic must equal a reference computed here, each in its user's partition.
 */
class AggregatorBrokerTest {

    private static final int USERS = 300;
    private static final int EVENTS = 30_000;
    /** Event times in the past month: the broker refuses record times more than an hour ahead of its clock. */
    private static final Instant START = Instant.now().truncatedTo(ChronoUnit.DAYS).minus(Duration.ofDays(30));
    private static final long SPAN_MS = Duration.ofDays(20).toMillis();

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path stateDir;

    @BeforeAll
    static void topics() throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG,
                SharedEmbeddedKafka.bootstrapServers()))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
    }

    @Test
    void summaries_on_the_topic_equal_the_reference() throws Exception {
        Random random = new Random(20280229L);
        List<UUID> users = new ArrayList<>();
        for (int i = 0; i < USERS; i++) {
            users.add(new UUID(random.nextLong(), i));
        }
        List<UsageEvent> distinct = new ArrayList<>();
        List<UsageEvent> sent = new ArrayList<>();
        for (int i = 0; i < EVENTS; i++) {
            if (i > 0 && random.nextInt(10) == 0) {
                sent.add(sent.get(random.nextInt(sent.size())));   // a retry: same event again
                continue;
            }
            UsageEvent e = new UsageEvent("evt-" + i, users.get(random.nextInt(USERS)),
                    START.plusMillis((long) (random.nextDouble() * SPAN_MS)), Provider.values()[random.nextInt(5)],
                    "/api", "POST", random.nextInt(4) == 0 ? 500 : 200, random.nextInt(2_000), random.nextInt(5_000),
                    random.nextInt(50_000), random.nextInt(1_000), 1 + random.nextInt(3));
            distinct.add(e);
            sent.add(e);
        }
        List<AdminCommand.ResetUsage> resets = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            Instant at = START.plusMillis((long) (random.nextDouble() * SPAN_MS));
            resets.add(new AdminCommand.ResetUsage("reset-" + i, users.get(random.nextInt(USERS)),
                    YearMonth.from(at.atOffset(ZoneOffset.UTC)), at, at, "admin@test"));
        }
        Map<MonthlySummaryKey, MonthlySummary> reference = reference(distinct, resets);

        AggregatorConfig config = AggregatorConfig.defaults(SharedEmbeddedKafka.bootstrapServers(), stateDir)
                .withApplicationId("aggregator-it-" + UUID.randomUUID());
        try (AggregatorService service = new AggregatorService(config, Clock.systemUTC()).start()) {
            long startedAt = System.nanoTime();
            produce(sent, resets);

            Map<MonthlySummaryKey, MonthlySummary> latest = new HashMap<>();
            Map<MonthlySummaryKey, Integer> partitions = new HashMap<>();
            List<ConsumerRecord<byte[], byte[]>> deadLetters = new ArrayList<>();
            try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
                consumer.subscribe(List.of(Topics.USAGE_SUMMARIES.name(), Topics.DEAD_LETTER.name()));
                await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(10)).until(() -> {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                        if (r.topic().equals(Topics.DEAD_LETTER.name())) {
                            deadLetters.add(r);
                            continue;
                        }
                        MonthlySummaryKey key = Topics.USAGE_SUMMARIES.keySerde().deserializer().deserialize(r.topic(), r.key());
                        latest.put(key, Topics.USAGE_SUMMARIES.valueSerde().deserializer().deserialize(r.topic(), r.value()));
                        partitions.put(key, r.partition());
                    }
                    return latest.equals(reference) && !deadLetters.isEmpty();
                });
            }
            System.out.printf("aggregated %d events (%d distinct) into %d summaries in %d ms%n", sent.size(),
                    distinct.size(), reference.size(), (System.nanoTime() - startedAt) / 1_000_000);

            assertThat(latest).isEqualTo(reference);
            partitions.forEach((key, partition) -> assertThat(partition).as("partition of %s", key)
                    .isEqualTo(UserPartitioner.partitionOf(key.userId(), TopicSettings.DEFAULT_PARTITIONS)));
            assertThat(deadLetters).hasSize(1);
            DeadLetter letter = Topics.DEAD_LETTER.valueSerde().deserializer()
                    .deserialize(Topics.DEAD_LETTER.name(), deadLetters.get(0).value());
            assertThat(letter.stage()).isEqualTo("aggregator.deserialization");
            assertThat(letter.topic()).isEqualTo(Topics.USAGE_EVENTS.name());
            assertThat(new String(deadLetters.get(0).headers().lastHeader("__streams.errors.offset").value(),
                    StandardCharsets.UTF_8)).isEqualTo(Long.toString(letter.offset()));
            assertThat(service.state()).isEqualTo(KafkaStreams.State.RUNNING);

            HttpResponse<String> ready = get(service, "/health/ready");
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(ready.body()).contains("RUNNING");
            assertThat(get(service, "/health/live").statusCode()).isEqualTo(200);
            HttpResponse<String> metrics = get(service, "/metrics");
            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.body()).contains("kafka_stream_").contains("jvm_memory_used_bytes");
        }
    }

    private static HttpResponse<String> get(AggregatorService service, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://localhost:" + service.httpPort() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static Map<MonthlySummaryKey, MonthlySummary> reference(List<UsageEvent> distinct,
                                                                     List<AdminCommand.ResetUsage> resets) {
        Map<MonthlySummaryKey, Instant> latestReset = new HashMap<>();
        resets.forEach(r -> latestReset.merge(new MonthlySummaryKey(r.userId(), r.month()), r.resetAt(),
                (a, b) -> a.isAfter(b) ? a : b));
        Map<MonthlySummaryKey, MonthlySummary> reference = new LinkedHashMap<>();
        latestReset.keySet().forEach(key -> reference.put(key, MonthlySummary.empty(key)));
        for (UsageEvent e : distinct) {
            MonthlySummaryKey key = MonthlySummaryKey.of(e);
            Instant reset = latestReset.get(key);
            if (reset == null || e.occurredAt().isAfter(reset)) {
                reference.put(key, reference.getOrDefault(key, MonthlySummary.empty(key)).plus(e));
            }
        }
        return reference;
    }

    /** Events as ingest sends them (keyed by user, record time = occurred_at), resets spread among them, one poison pill. */
    private static void produce(List<UsageEvent> events, List<AdminCommand.ResetUsage> resets) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, SharedEmbeddedKafka.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        String eventsTopic = Topics.USAGE_EVENTS.name();
        String commandsTopic = Topics.ADMIN_COMMANDS.name();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            int resetEvery = events.size() / resets.size();
            for (int i = 0; i < events.size(); i++) {
                UsageEvent e = events.get(i);
                producer.send(new ProducerRecord<>(eventsTopic, null, e.occurredAt().toEpochMilli(),
                        Topics.USAGE_EVENTS.keySerde().serializer().serialize(eventsTopic, e.userId().toString()),
                        Topics.USAGE_EVENTS.valueSerde().serializer().serialize(eventsTopic, e)));
                if (i % resetEvery == resetEvery / 2) {
                    AdminCommand.ResetUsage r = resets.get(i / resetEvery);
                    producer.send(new ProducerRecord<>(commandsTopic, null, r.issuedAt().toEpochMilli(),
                            Topics.ADMIN_COMMANDS.keySerde().serializer().serialize(commandsTopic, r.userId().toString()),
                            Topics.ADMIN_COMMANDS.valueSerde().serializer().serialize(commandsTopic, r)));
                }
                if (i == events.size() / 3) {
                    producer.send(new ProducerRecord<>(eventsTopic, e.userId().toString().getBytes(StandardCharsets.UTF_8),
                            "{\"event_id\":".getBytes(StandardCharsets.UTF_8)));
                }
            }
            producer.flush();
        }
    }

    private static KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, SharedEmbeddedKafka.bootstrapServers());
        p.put(ConsumerConfig.GROUP_ID_CONFIG, "aggregator-it-reader-" + UUID.randomUUID());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5_000);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return new KafkaConsumer<>(p);
    }
}
