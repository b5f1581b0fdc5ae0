package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.http.HttpMessageFactory;
import io.cloudevents.jackson.JsonFormat;
import io.cloudevents.kafka.CloudEventSerializer;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 21 through the whole pipeline: usage events sent as CloudEvents, written by the CloudEvents
 * Java SDK's own HTTP and Kafka bindings, reach {@code api_usage} and the monthly summary in
 * PostgreSQL with exactly the values of the same events sent as plain JSON. The real ingest service
 * and aggregator (with its PostgreSQL sink) on the embedded broker and PostgreSQL.
 */
class CloudEventsEndToEndIT {

    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final Duration PIPELINE = Duration.ofSeconds(90);
    private static final String SOURCE = "/apps/cloudevents-it";

    @TempDir
    static Path stateDir;

    private static TestStack postgres;
    private static DSLContext dsl;
    private static String bootstrap;
    private static final HttpClient http = HttpClient.newHttpClient();
    private static IngestService ingest;
    private static AggregatorService aggregator;
    private static String apiKey;

    @BeforeAll
    static void start() {
        postgres = TestStack.withSharedBroker();
        bootstrap = postgres.kafkaBootstrap();
        postgres.jdbcUrl("meter");
        var dataSource = postgres.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        apiKey = new ApiKeyStore(dataSource, TIME.clock()).issue("cloudevents-it", ApiKeyScopes.ALL).secret();
        ingest = IngestService.create(IngestConfig.defaults(bootstrap, postgres.jdbcUrl("meter"),
                postgres.user(), postgres.password()).withPort(0), TIME.clock()).start();
        SinkConfig sink = new SinkConfig(bootstrap, "cloudevents-it-sink", SinkTopics.standard(),
                SinkConfig.DEFAULT_MAX_POLL_RECORDS, Duration.ofMillis(50), Duration.ofMillis(400),
                postgres.jdbcUrl("meter"), postgres.user(), postgres.password());
        aggregator = new AggregatorService(AggregatorConfig.defaults(bootstrap, stateDir.resolve("aggregator"))
                .withApplicationId("aggregator-cloudevents-it"), TIME.clock(), sink).start();
        await().atMost(Duration.ofSeconds(60)).until(() -> aggregator.state() == KafkaStreams.State.RUNNING);
    }

    @AfterAll
    static void stop() {
        if (aggregator != null) {
            aggregator.close();
        }
        if (ingest != null) {
            ingest.close();
        }
        if (postgres != null) {
            if (postgres != null) {
                postgres.close();
            }
        }
    }

    @Test
    void binaryStructuredAndBatchedCloudEventsOverHttpLandAsTheirPlainJsonTwins() throws Exception {
        UUID plainUser = UUID.randomUUID();
        UUID cloudUser = UUID.randomUUID();
        Instant t = recently();
        List<UsageEvent> plain = fourEvents(plainUser, t);
        List<UsageEvent> cloud = fourEvents(cloudUser, t);

        assertAccepted(post("application/json", Map.of(), Json.write(wire(plain.get(0)))), 1);
        assertAccepted(post("application/json", Map.of(), Json.write(wire(plain.get(1)))), 1);
        assertAccepted(post("application/json", Map.of(), Json.write(List.of(wire(plain.get(2)), wire(plain.get(3))))), 2);

        assertAccepted(sdkRequest(cloud.get(0), true), 1);
        assertAccepted(sdkRequest(cloud.get(1), false), 1);
        JsonFormat format = new JsonFormat();
        String batch = "[" + new String(format.serialize(cloudEventOf(cloud.get(2))), StandardCharsets.UTF_8) + ","
                + new String(format.serialize(cloudEventOf(cloud.get(3))), StandardCharsets.UTF_8) + "]";
        assertAccepted(post("application/cloudevents-batch+json", Map.of(), batch), 2);

        assertSameRowsOnceWritten(plainUser, cloudUser, 4);
    }

    @Test
    void binaryAndStructuredRecordsOfTheKafkaBindingAreCountedAndAMalformedOneIsDeadLettered() throws Exception {
        UUID plainUser = UUID.randomUUID();
        UUID cloudUser = UUID.randomUUID();
        Instant t = recently();
        List<UsageEvent> plain = fourEvents(plainUser, t).subList(0, 2);
        List<UsageEvent> cloud = fourEvents(cloudUser, t).subList(0, 2);
        String topic = Topics.USAGE_EVENTS.name();

        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                Topics.USAGE_EVENTS.keySerde().serializer(), Topics.USAGE_EVENTS.valueSerde().serializer())) {
            for (UsageEvent e : plain) {
                producer.send(new ProducerRecord<>(topic, null, e.occurredAt().toEpochMilli(), e.userId().toString(), e)).get();
            }
        }
        try (var binary = cloudEventProducer("BINARY"); var structured = cloudEventProducer("STRUCTURED")) {
            UsageEvent first = cloud.get(0);
            UsageEvent second = cloud.get(1);
            binary.send(new ProducerRecord<>(topic, null, first.occurredAt().toEpochMilli(), cloudUser.toString(),
                    cloudEventOf(first))).get();
            structured.send(new ProducerRecord<>(topic, null, second.occurredAt().toEpochMilli(), cloudUser.toString(),
                    cloudEventOf(second))).get();
        }
        // A binary record whose producer left out ce_type: what the SDK serializer wrote, minus one header.
        UsageEvent broken = new UsageEvent("broken-" + cloudUser, cloudUser, t, Provider.OTHER,
                "/dead-letter/" + cloudUser, "GET", 200, 1, 1, 1, 0, 1);
        Headers headers = new RecordHeaders();
        byte[] value;
        try (CloudEventSerializer serializer = serializer("BINARY")) {
            value = serializer.serialize(topic, headers, cloudEventOf(broken));
        }
        headers.remove("ce_type");
        try (var raw = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                new StringSerializer(), new ByteArraySerializer())) {
            raw.send(new ProducerRecord<>(topic, null, broken.occurredAt().toEpochMilli(), cloudUser.toString(), value,
                    headers)).get();
        }

        assertSameRowsOnceWritten(plainUser, cloudUser, 2);
        await().atMost(PIPELINE).untilAsserted(() -> assertThat(deadLettersOf(value))
                .anySatisfy(letter -> {
                    assertThat(letter.stage()).isEqualTo("aggregator.deserialization");
                    assertThat(letter.reason()).contains("not a valid CloudEvent in binary mode: missing the header ce_type");
                }));
        assertThat(dsl.fetchCount(Tables.API_USAGE, Tables.API_USAGE.EVENT_ID.eq(broken.eventId()))).isZero();
    }

    /** Four events of this month that differ in every summed field, so a mix-up shows. */
    private static List<UsageEvent> fourEvents(UUID user, Instant t) {
        return List.of(
                new UsageEvent("ce-1", user, t, Provider.OPENAI, "/v1/chat/completions", "POST", 200, 420, 1200, 5400, 321, 2),
                new UsageEvent("ce-2", user, t.plusMillis(1500), Provider.ANTHROPIC, "/v1/messages", "POST", 529, 9000,
                        800, 120, 0, 1),
                new UsageEvent("ce-3", user, t.plusSeconds(3), Provider.GITHUB, "/repos/o/r", "GET", 200, 35, 0, 9000, 0, 1),
                new UsageEvent("ce-4", user, t.plusSeconds(4).plusNanos(250_000_000), Provider.GEMINI,
                        "/v1beta/models", "GET", 404, 12, 64, 80, 7, 3));
    }

    /** The event as a CloudEvents producer writes it: id, subject and time as attributes, the rest in data. */
    private static CloudEvent cloudEventOf(UsageEvent e) {
        Map<String, Object> data = wire(e);
        data.remove("event_id");
        data.remove("user_id");
        data.remove("occurred_at");
        return CloudEventBuilder.v1()
                .withId(e.eventId())
                .withSource(URI.create(SOURCE))
                .withType(UsageCloudEvents.TYPE)
                .withSubject(e.userId().toString())
                .withTime(OffsetDateTime.ofInstant(e.occurredAt(), ZoneOffset.UTC))
                .withData("application/json", Json.write(data).getBytes(StandardCharsets.UTF_8))
                .build();
    }

    /** The plain JSON usage event as a map (the wire names of the contract). */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> wire(UsageEvent e) {
        try {
            return Json.read(Json.write(e), LinkedHashMap.class);
        } catch (Exception ex) {
            throw new IllegalStateException(ex);
        }
    }

    /** A request written by the SDK's HTTP binding, in binary or structured mode. */
    private static HttpResponse<String> sdkRequest(UsageEvent e, boolean binary) throws Exception {
        Map<String, String> headers = new LinkedHashMap<>();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        var writer = HttpMessageFactory.createWriter(headers::put, body::writeBytes);
        if (binary) {
            writer.writeBinary(cloudEventOf(e));
        } else {
            writer.writeStructured(cloudEventOf(e), JsonFormat.CONTENT_TYPE);
        }
        return post(null, headers, body.toString(StandardCharsets.UTF_8));
    }

    private static HttpResponse<String> post(String contentType, Map<String, String> headers, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + ingest.port() + "/v1/events"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + apiKey)
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        headers.forEach(request::header);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void assertAccepted(HttpResponse<String> response, int events) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        assertThat(Json.tree(response.body()).get("accepted").asInt()).isEqualTo(events);
    }

    private static KafkaProducer<String, CloudEvent> cloudEventProducer(String encoding) {
        return new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap),
                new StringSerializer(), serializer(encoding));
    }

    private static CloudEventSerializer serializer(String encoding) {
        CloudEventSerializer serializer = new CloudEventSerializer();
        serializer.configure(encoding.equals("BINARY")
                ? Map.of(CloudEventSerializer.ENCODING_CONFIG, encoding)
                : Map.of(CloudEventSerializer.ENCODING_CONFIG, encoding,
                        CloudEventSerializer.EVENT_FORMAT_CONFIG, JsonFormat.CONTENT_TYPE), false);
        return serializer;
    }

    /**
     * Waits until both users' rows are in PostgreSQL, then compares them: every {@code api_usage}
     * column and every summary column but the user (and when and from where the sink wrote them) are equal.
     */
    private static void assertSameRowsOnceWritten(UUID plainUser, UUID cloudUser, int calls) {
        var s = Tables.MONTHLY_USAGE_SUMMARY;
        await().atMost(PIPELINE).untilAsserted(() -> {
            assertThat(summary(plainUser)).as("plain summary").isNotNull().extracting(r -> r.get(s.CALLS)).isEqualTo((long) calls);
            assertThat(summary(cloudUser)).as("CloudEvents summary").isNotNull().extracting(r -> r.get(s.CALLS))
                    .isEqualTo((long) calls);
            assertThat(apiUsage(plainUser)).hasSize(calls);
            assertThat(apiUsage(cloudUser)).hasSize(calls);
        });
        assertThat(apiUsage(cloudUser)).isEqualTo(apiUsage(plainUser));
        assertThat(withoutUser(summary(cloudUser))).isEqualTo(withoutUser(summary(plainUser)));
    }

    private static Record summary(UUID user) {
        var s = Tables.MONTHLY_USAGE_SUMMARY;
        return dsl.selectFrom(s).where(s.USER_ID.eq(user)).and(s.MONTH.eq(MONTH.atDay(1))).fetchOne();
    }

    private static Map<String, Object> withoutUser(Record summary) {
        var s = Tables.MONTHLY_USAGE_SUMMARY;
        Map<String, Object> values = new LinkedHashMap<>(summary.intoMap());
        values.remove(s.USER_ID.getName());
        values.remove(s.UPDATED_AT.getName());
        // Where in the summaries topic the sink read the row: bookkeeping, not usage.
        values.remove(s.SOURCE_PARTITION.getName());
        values.remove(s.SOURCE_OFFSET.getName());
        return values;
    }

    /** The user's api_usage rows without the user and the write time, by event id. */
    private static List<List<Object>> apiUsage(UUID user) {
        var a = Tables.API_USAGE;
        List<List<Object>> rows = new ArrayList<>();
        dsl.select(a.EVENT_ID, a.OCCURRED_AT, a.PROVIDER, a.ENDPOINT, a.METHOD, a.STATUS_CODE, a.RESPONSE_TIME_MS,
                        a.REQUEST_BYTES, a.RESPONSE_BYTES, a.TOKENS, a.UNITS)
                .from(a).where(a.USER_ID.eq(user)).orderBy(a.EVENT_ID)
                .forEach(r -> rows.add(Arrays.asList(r.intoArray())));
        return rows;
    }

    /** Every dead letter so far whose payload is {@code payload}. */
    private static List<DeadLetter> deadLettersOf(byte[] payload) {
        Map<String, Object> props = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        List<DeadLetter> letters = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), Topics.DEAD_LETTER.valueSerde().deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.DEAD_LETTER.name()).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], DeadLetter> r : consumer.poll(Duration.ofMillis(200))) {
                    if (Arrays.equals(r.value().payload(), payload)) {
                        letters.add(r.value());
                    }
                }
            }
        }
        return letters;
    }

    /** A few minutes ago, but never in the previous month (the first minutes of a month). */
    private static Instant recently() {
        Instant monthStart = MONTH.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        Instant fewMinutesAgo = TIME.now().minus(3, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.MILLIS);
        return fewMinutesAgo.isBefore(monthStart) ? monthStart : fewMinutesAgo;
    }
}
