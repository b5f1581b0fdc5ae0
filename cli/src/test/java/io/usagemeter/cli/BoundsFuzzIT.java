package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.SinkTopics;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.math.BigInteger;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.ThreadMetadata;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13's fuzz suite: ingest, the aggregator with its sink and the enforcer on a broker of their own
 * and an embedded PostgreSQL, fed thousands of generated events, referrals and admin calls with every
 * field at its maximum, one past it, empty, with NUL, very long, non-ASCII and of the wrong type, plus
 * records produced straight to Kafka. Each request must get a 2xx when the test's own idea of the
 * contract says valid, else a 4xx naming the field; afterwards every user's {@code used} must equal the
 * test's own sum of the accepted units, no stream thread may have died, and a normal event of a new user
 * must still reach PostgreSQL. The seed is printed; {@code -Dfuzz.seed=N} replays a run and
 * {@code -Dfuzz.requests=N} sets its size (default 2,000 requests).
 */
class BoundsFuzzIT {

    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final String ADMIN_SECRET = "fuzz-admin-secret-of-at-least-32-bytes!";
    private static final String ADMIN = "admin@example.com";
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final int USERS = 30;

    @TempDir
    static Path stateDir;

    private static TestStack broker;
    private static TestStack postgres;
    private static DSLContext dsl;
    private static IngestService ingest;
    private static AggregatorService aggregator;
    private static EnforcerService enforcer;
    private static String apiKey;
    private static String adminToken;
    private static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        broker = TestStack.start();
        String bootstrap = broker.kafkaBootstrap();
        postgres = TestStack.withSharedBroker();
        postgres.jdbcUrl("meter");
        DataSource dataSource = postgres.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        apiKey = new ApiKeyStore(dataSource, TIME.clock()).issue("fuzz", ApiKeyScopes.ALL).secret();
        ingest = IngestService.create(IngestConfig.defaults(bootstrap, postgres.jdbcUrl("meter"),
                postgres.user(), postgres.password()).withPort(0), TIME.clock()).start();
        SinkConfig sink = new SinkConfig(bootstrap, "fuzz-sink", SinkTopics.standard(), SinkConfig.DEFAULT_MAX_POLL_RECORDS,
                Duration.ofMillis(50), Duration.ofMillis(400), postgres.jdbcUrl("meter"), postgres.user(), postgres.password());
        aggregator = new AggregatorService(AggregatorConfig.defaults(bootstrap, stateDir.resolve("aggregator"))
                .withApplicationId("aggregator-fuzz"), TIME.clock(), sink).start();
        enforcer = new EnforcerService(EnforcerConfig.defaults(bootstrap, stateDir.resolve("enforcer"),
                        postgres.jdbcUrl("meter"), postgres.user(), postgres.password())
                .withApplicationId("enforcer-fuzz").withAdminAuth(ADMIN_SECRET, null, Set.of(ADMIN)),
                dsl, TIME.clock(), new Properties()).start();
        adminToken = AdminTokens.hs256(ADMIN_SECRET.getBytes(StandardCharsets.UTF_8), ADMIN, Duration.ofHours(1),
                TIME.clock());
        await().atMost(Duration.ofSeconds(60)).until(() -> aggregator.state() == KafkaStreams.State.RUNNING
                && enforcer.streams().state() == KafkaStreams.State.RUNNING);
    }

    @AfterAll
    static void stop() {
        for (AutoCloseable c : new AutoCloseable[] {enforcer, aggregator, ingest, postgres, broker}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception e) {
                    System.err.println("closing " + c + ": " + e);
                }
            }
        }
    }

    /** One generated value of a field and whether the contract accepts it. */
    record Variant(String name, Supplier<JsonNode> value, boolean valid) {
        static Variant ok(String name, Supplier<JsonNode> value) {
            return new Variant(name, value, true);
        }

        static Variant bad(String name, Supplier<JsonNode> value) {
            return new Variant(name, value, false);
        }
    }

    /** {@code null} value: the field is left out. */
    private static final Supplier<JsonNode> ABSENT = () -> null;

    private Random random;
    private int sequence;
    private final Map<UUID, Long> usedModel = new HashMap<>();
    private final Set<String> countedEvents = new HashSet<>();
    private final List<ObjectNode> accepted = new ArrayList<>();
    private final List<String> problems = new ArrayList<>();
    private int requests;
    private int refusals;

    @Test
    void everyRequestIsAcceptedOrRefusedNamingTheFieldAndUsageStaysExact() throws Exception {
        long seed = Long.getLong("fuzz.seed", System.nanoTime());
        int total = Integer.getInteger("fuzz.requests", 2000);
        System.out.println("BoundsFuzzIT seed " + seed + " (-Dfuzz.seed=" + seed + " replays it), " + total + " requests");
        random = new Random(seed);
        List<UUID> users = new ArrayList<>();
        for (int i = 0; i < USERS; i++) {
            users.add(new UUID(seed, i));
            usedModel.put(users.get(i), 0L);
        }
        Map<String, List<Variant>> eventVariants = eventVariants();
        List<String> eventFields = new ArrayList<>(eventVariants.keySet());
        Set<String> threadsBefore = threadNames();
        long started = System.nanoTime();

        for (int i = 0; i < total; i++) {
            UUID user = users.get(random.nextInt(USERS));
            int kind = random.nextInt(100);
            if (kind < 55) {
                singleEvent(user, eventVariants, eventFields, false);
            } else if (kind < 62) {
                singleEvent(user, eventVariants, eventFields, true);
            } else if (kind < 70) {
                batch(users, eventVariants, eventFields);
            } else if (kind < 75 && !accepted.isEmpty()) {
                resend(accepted.get(random.nextInt(accepted.size())));
            } else if (kind < 85) {
                referral(users);
            } else {
                adminCall(user);
            }
        }
        straightToKafka(users);
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;
        System.out.println("BoundsFuzzIT: " + requests + " requests (" + refusals + " refused) in " + elapsedMs + " ms");
        assertThat(problems).as("requests answered against the contract (seed " + seed + ")").isEmpty();

        // Every user's used equals the model, and nothing is negative.
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            for (UUID user : users) {
                LimitAnswer answer = limit(user);
                assertThat(answer.used()).as("used of %s (seed %d)", user, seed).isEqualTo(usedModel.get(user));
            }
        });
        for (UUID user : users) {
            LimitAnswer answer = limit(user);
            assertThat(answer.used()).isNotNegative();
            assertThat(answer.remaining()).isNotNegative()
                    .isEqualTo(Math.max(answer.effectiveLimit() - answer.used(), 0));
            assertThat(answer.effectiveLimit()).isNotNegative();
            if (answer.used() >= answer.effectiveLimit()) {
                assertThat(answer.state().name()).isEqualTo("EXCEEDED");
            }
        }

        // A normal event of a new user still reaches PostgreSQL within seconds.
        UUID fresh = UUID.randomUUID();
        ObjectNode normal = validEvent(fresh);
        HttpResponse<String> response = post("/v1/events", "application/json", normal.toString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(30)).until(() ->
                dsl.fetchCount(dsl.selectFrom("api_usage").where("user_id = ?", fresh)) == 1
                        && dsl.fetchCount(dsl.selectFrom("monthly_usage_summary").where("user_id = ?", fresh)) == 1);

        // No stream thread died (a replaced thread gets a new name) and both apps still run.
        assertThat(aggregator.state()).isEqualTo(KafkaStreams.State.RUNNING);
        assertThat(enforcer.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);
        assertThat(threadNames()).isEqualTo(threadsBefore);
        assertThat(aggregator.sink().orElseThrow().ready()).isTrue();
    }

    // ---- events

    private Map<String, List<Variant>> eventVariants() {
        Map<String, List<Variant>> v = new java.util.LinkedHashMap<>();
        v.put("event_id", List.of(
                Variant.ok("128 characters", () -> {
                    String id = uniqueId("x");
                    return text(id + "y".repeat(128 - id.length()));
                }),
                Variant.ok("non-ASCII", () -> text("事件-😀-" + uniqueId("n"))),
                Variant.bad("129 characters", () -> text("z".repeat(129))),
                Variant.bad("empty", () -> text("")),
                Variant.bad("NUL", () -> text(uniqueId("nul") + "\u0000")),
                Variant.bad("newline", () -> text(uniqueId("nl") + "\n")),
                Variant.bad("very long", () -> text("L".repeat(10_000))),
                Variant.bad("number", () -> NODES.numberNode(12)),
                Variant.bad("null", NODES::nullNode),
                Variant.bad("absent", ABSENT)));
        v.put("occurred_at", List.of(
                Variant.ok("with an offset", () -> text(recently().atOffset(ZoneOffset.ofHours(2)).toString())),
                Variant.bad("10 minutes ahead", () -> text(TIME.now().plus(10, ChronoUnit.MINUTES).toString())),
                Variant.bad("40 days old", () -> text(TIME.now().minus(40, ChronoUnit.DAYS).toString())),
                Variant.bad("not a time", () -> text("yesterday")),
                Variant.bad("NUL", () -> text("2026-01-01T00:00:00Z\u0000")),
                Variant.bad("number", () -> NODES.numberNode(1_700_000_000L)),
                Variant.bad("empty", () -> text(""))));
        v.put("provider", List.of(
                Variant.ok("gemini", () -> text("gemini")),
                Variant.ok("other", () -> text("other")),
                Variant.bad("unknown", () -> text("aws")),
                Variant.bad("empty", () -> text("")),
                Variant.bad("NUL", () -> text("openai\u0000")),
                Variant.bad("array", () -> NODES.arrayNode().add("openai"))));
        v.put("endpoint", List.of(
                Variant.ok("512 characters", () -> text("/" + "p".repeat(511))),
                Variant.ok("non-ASCII", () -> text("/v1/вызов/😀/ü")),
                Variant.bad("513 characters", () -> text("/" + "p".repeat(512))),
                Variant.bad("empty", () -> text("")),
                Variant.bad("NUL", () -> text("/a\u0000b")),
                Variant.bad("control", () -> text("/a\u0007b")),
                Variant.bad("very long", () -> text("/" + "q".repeat(20_000))),
                Variant.bad("object", () -> NODES.objectNode().put("path", "/x"))));
        v.put("method", List.of(
                Variant.ok("32 characters", () -> text("M".repeat(32))),
                Variant.ok("PATCH", () -> text("PATCH")),
                Variant.bad("33 characters", () -> text("M".repeat(33))),
                Variant.bad("empty", () -> text("")),
                Variant.bad("NUL", () -> text("GET\u0000")),
                Variant.bad("non-ASCII", () -> text("ПОСТ")),
                Variant.bad("space", () -> text("G ET")),
                Variant.bad("number", () -> NODES.numberNode(1))));
        v.put("status_code", List.of(
                Variant.ok("100", () -> NODES.numberNode(100)),
                Variant.ok("599", () -> NODES.numberNode(599)),
                Variant.bad("99", () -> NODES.numberNode(99)),
                Variant.bad("600", () -> NODES.numberNode(600)),
                Variant.bad("string", () -> text("200")),
                Variant.bad("fraction", () -> NODES.numberNode(200.5)),
                Variant.bad("huge", () -> NODES.numberNode(new BigInteger("99999999999999999999")))));
        v.put("response_time_ms", numberVariants(0, 86_400_000L));
        v.put("request_bytes", numberVariants(0, 4_294_967_296L));
        v.put("response_bytes", numberVariants(0, 4_294_967_296L));
        List<Variant> tokens = new ArrayList<>(numberVariants(0, 100_000_000L));
        tokens.add(Variant.ok("absent", ABSENT));
        tokens.add(Variant.ok("null", NODES::nullNode));
        v.put("tokens", tokens);
        List<Variant> units = new ArrayList<>(numberVariants(1, 1_000_000L));
        units.add(Variant.ok("absent", ABSENT));
        units.add(Variant.ok("null", NODES::nullNode));
        v.put("units", units);
        v.put("user_id", List.of(
                Variant.bad("not a UUID", () -> text("not-a-uuid")),
                Variant.bad("empty", () -> text("")),
                Variant.bad("NUL", () -> text("\u0000")),
                Variant.bad("number", () -> NODES.numberNode(5))));
        v.put("unknown_field", List.of(Variant.bad("unknown", () -> text("surprise"))));
        return v;
    }

    private static List<Variant> numberVariants(long min, long max) {
        return List.of(
                Variant.ok("minimum", () -> NODES.numberNode(min)),
                Variant.ok("maximum", () -> NODES.numberNode(max)),
                Variant.bad("maximum + 1", () -> NODES.numberNode(max + 1)),
                Variant.bad("minimum - 1", () -> NODES.numberNode(min - 1)),
                Variant.bad("Long.MAX_VALUE", () -> NODES.numberNode(Long.MAX_VALUE)),
                Variant.bad("beyond a long", () -> NODES.numberNode(new BigInteger("9223372036854775808"))),
                Variant.bad("string", () -> text("5")),
                Variant.bad("fraction", () -> NODES.numberNode(1.5)),
                Variant.bad("boolean", () -> NODES.booleanNode(true)));
    }

    /** A valid event, or one field replaced by a variant; returns the event and whether it is valid. */
    private Map.Entry<ObjectNode, String> eventWithVariant(UUID user, Map<String, List<Variant>> variants,
                                                           List<String> fields, boolean allowIdentity) {
        ObjectNode event = validEvent(user);
        if (random.nextInt(4) == 0) {
            return Map.entry(event, "");
        }
        String field;
        do {
            field = fields.get(random.nextInt(fields.size()));
        } while (!allowIdentity && (field.equals("event_id") || field.equals("user_id")));
        List<Variant> options = variants.get(field);
        Variant variant = options.get(random.nextInt(options.size()));
        JsonNode value = variant.value().get();
        if (value == null) {
            event.remove(field);
        } else {
            event.set(field, value);
        }
        return Map.entry(event, variant.valid() ? "" : field);
    }

    private void singleEvent(UUID user, Map<String, List<Variant>> variants, List<String> fields, boolean cloudEvent)
            throws Exception {
        Map.Entry<ObjectNode, String> generated = eventWithVariant(user, variants, fields, !cloudEvent);
        ObjectNode event = generated.getKey();
        String badField = generated.getValue();
        HttpResponse<String> response;
        if (cloudEvent) {
            ObjectNode envelope = NODES.objectNode();
            envelope.put("specversion", "1.0");
            envelope.set("id", event.get("event_id"));
            envelope.put("source", "/fuzz");
            envelope.put("type", "io.usagemeter.usage");
            envelope.set("data", event);
            response = post("/v1/events", "application/cloudevents+json", envelope.toString());
        } else {
            response = post("/v1/events", "application/json", event.toString());
        }
        judge("event " + event, response, badField);
        if (response.statusCode() == 202) {
            count(event);
        }
    }

    private void batch(List<UUID> users, Map<String, List<Variant>> variants, List<String> fields) throws Exception {
        int size = 1 + random.nextInt(5);
        ArrayNode batch = NODES.arrayNode();
        String badField = "";
        for (int i = 0; i < size; i++) {
            Map.Entry<ObjectNode, String> generated = eventWithVariant(users.get(random.nextInt(USERS)), variants, fields, true);
            batch.add(generated.getKey());
            if (badField.isEmpty()) {
                badField = generated.getValue();
            }
        }
        HttpResponse<String> response = post("/v1/events", "application/json", batch.toString());
        judge("batch " + batch, response, badField);
        if (response.statusCode() == 202) {
            batch.forEach(e -> count((ObjectNode) e));
        }
    }

    private void resend(ObjectNode event) throws Exception {
        HttpResponse<String> response = post("/v1/events", "application/json", event.toString());
        judge("resent " + event, response, "");
    }

    private void count(ObjectNode event) {
        UUID user = UUID.fromString(event.get("user_id").asText());
        String key = user + "|" + event.get("event_id").asText();
        if (countedEvents.add(key)) {
            JsonNode units = event.get("units");
            long u = units == null || units.isNull() ? 1 : units.asLong();
            usedModel.merge(user, u, Math::addExact);
            accepted.add(event);
        }
    }

    private ObjectNode validEvent(UUID user) {
        ObjectNode e = NODES.objectNode();
        e.put("event_id", uniqueId("fz"));
        e.put("user_id", user.toString());
        e.put("occurred_at", recently().toString());
        e.put("provider", "openai");
        e.put("endpoint", "/v1/chat/completions");
        e.put("method", "POST");
        e.put("status_code", 200);
        e.put("response_time_ms", 420);
        e.put("request_bytes", 1200);
        e.put("response_bytes", 5400);
        e.put("tokens", 321);
        e.put("units", 1 + random.nextInt(20));
        return e;
    }

    // ---- referrals and admin calls

    private void referral(List<UUID> users) throws Exception {
        ObjectNode r = NODES.objectNode();
        UUID referrer = users.get(random.nextInt(USERS));
        r.put("referral_id", uniqueId("ref"));
        r.put("referrer_id", referrer.toString());
        r.put("referred_id", UUID.randomUUID().toString());
        r.put("status", "completed");
        r.put("occurred_at", recently().toString());
        String bad = "";
        switch (random.nextInt(12)) {
            case 0 -> r.put("referral_id", "r".repeat(128)); // valid at the maximum (may repeat: refused downstream)
            case 1 -> { r.put("referral_id", "r".repeat(129)); bad = "referral_id"; }
            case 2 -> { r.put("referral_id", ""); bad = "referral_id"; }
            case 3 -> { r.put("referral_id", "ref\u0000" + sequence++); bad = "referral_id"; }
            case 4 -> { r.put("referrer_id", "nope"); bad = "referrer_id"; }
            case 5 -> { r.put("referred_id", referrer.toString()); bad = "referred_id"; }
            case 6 -> { r.put("status", "maybe"); bad = "status"; }
            case 7 -> { r.put("occurred_at", 42); bad = "occurred_at"; }
            case 8 -> { r.put("bonus", 1000); bad = "bonus"; }
            case 9 -> r.put("referral_id", "推荐-😀-" + uniqueId("r"));
            default -> { }
        }
        judge("referral " + r, post("/v1/referrals", "application/json", r.toString()), bad);
    }

    private void adminCall(UUID user) throws Exception {
        String base = "/v1/admin/users/" + user;
        switch (random.nextInt(14)) {
            case 0 -> judge("credits max", admin("POST", base + "/credits", "{\"amount\":1000000000}"), "");
            case 1 -> judge("credits max+1", admin("POST", base + "/credits", "{\"amount\":1000000001}"), "amount");
            case 2 -> judge("credits Long.MAX", admin("POST", base + "/credits", "{\"amount\":9223372036854775807}"), "amount");
            case 3 -> judge("credits beyond long", admin("POST", base + "/credits", "{\"amount\":9223372036854775808}"), "amount");
            case 4 -> judge("credits zero", admin("POST", base + "/credits", "{\"amount\":0}"), "amount");
            case 5 -> judge("credits string", admin("POST", base + "/credits", "{\"amount\":\"ten\"}"), "amount");
            case 6 -> judge("credits id NUL", admin("POST", base + "/credits", "{\"amount\":5,\"command_id\":\"a\\u0000\"}"),
                    "command_id");
            case 7 -> judge("credits id 201", admin("POST", base + "/credits",
                    "{\"amount\":5,\"command_id\":\"" + "c".repeat(201) + "\"}"), "command_id");
            case 8 -> judge("plan pro", admin("PUT", base + "/plan", "{\"plan\":\"pro\"}"), "");
            case 9 -> judge("plan too long", admin("PUT", base + "/plan", "{\"plan\":\"" + "p".repeat(33) + "\"}"), "plan");
            case 10 -> judge("plan NUL", admin("PUT", base + "/plan", "{\"plan\":\"pro\\u0000\"}"), "plan");
            case 11 -> judge("reset outside the horizon", admin("POST", base + "/reset-usage",
                    "{\"month\":\"" + MONTH.minusMonths(12) + "\"}"), "month");
            case 12 -> judge("reset dry run", admin("POST", base + "/reset-usage", "{\"dry_run\":true}"), "");
            default -> judge("reset wrong type", admin("POST", base + "/reset-usage", "{\"month\":202601}"), "month");
        }
    }

    /** Poison produced straight to Kafka, past ingest: must be dead letters, never counted. */
    private void straightToKafka(List<UUID> users) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.kafkaBootstrap());
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < 20; i++) {
                UUID user = users.get(random.nextInt(USERS));
                ObjectNode e = validEvent(user);
                switch (i % 4) {
                    case 0 -> e.put("units", Long.MAX_VALUE);
                    case 1 -> e.put("method", "M".repeat(33));
                    case 2 -> e.put("endpoint", "/a\u0000b");
                    default -> e.put("event_id", uniqueId("nul") + "\u0000");
                }
                producer.send(new ProducerRecord<>(Topics.USAGE_EVENTS.name(), null, TIME.now().toEpochMilli(),
                        user.toString(), e.toString().getBytes(StandardCharsets.UTF_8))).get();
            }
            UUID user = users.get(0);
            String command = "{\"type\":\"add_bonus_credits\",\"command_id\":\"" + uniqueId("k") + "\",\"user_id\":\"" + user
                    + "\",\"amount\":9223372036854775807,\"issued_at\":\"" + TIME.now() + "\",\"issued_by\":\"fuzz\"}";
            producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), user.toString(),
                    command.getBytes(StandardCharsets.UTF_8))).get();
        }
    }

    // ---- judging answers

    /** A 2xx when {@code badField} is empty, else a 4xx whose details name it. */
    private void judge(String what, HttpResponse<String> response, String badField) {
        requests++;
        int status = response.statusCode();
        if (badField.isEmpty()) {
            if (status < 200 || status >= 300) {
                problems.add("expected 2xx for " + abbreviate(what) + ", got " + status + " " + abbreviate(response.body()));
            }
            return;
        }
        refusals++;
        if (status != 400) {
            problems.add("expected 400 naming " + badField + " for " + abbreviate(what) + ", got " + status + " "
                    + abbreviate(response.body()));
            return;
        }
        try {
            JsonNode details = Json.tree(response.body()).get("details");
            boolean named = false;
            for (JsonNode d : details) {
                named |= d.has("field") && d.get("field").asText().equals(badField);
            }
            if (!named) {
                problems.add("400 without " + badField + " in its details for " + abbreviate(what) + ": "
                        + abbreviate(response.body()));
            }
        } catch (Exception e) {
            problems.add("400 without a JSON error body for " + abbreviate(what) + ": " + abbreviate(response.body()));
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }

    private String uniqueId(String prefix) {
        return prefix + "-" + Long.toHexString(random.nextLong()) + "-" + (sequence++);
    }

    private static JsonNode text(String s) {
        return NODES.textNode(s);
    }

    /** A few minutes ago, but never in the previous month. */
    private static Instant recently() {
        Instant monthStart = MONTH.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        Instant fewMinutesAgo = TIME.now().minus(3, ChronoUnit.MINUTES).truncatedTo(ChronoUnit.MILLIS);
        return fewMinutesAgo.isBefore(monthStart) ? monthStart : fewMinutesAgo;
    }

    private static Set<String> threadNames() {
        Set<String> names = new HashSet<>();
        aggregator.streams().metadataForLocalThreads().stream().map(ThreadMetadata::threadName).forEach(names::add);
        enforcer.streams().metadataForLocalThreads().stream().map(ThreadMetadata::threadName).forEach(names::add);
        return names;
    }

    private static HttpResponse<String> post(String path, String contentType, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + ingest.port() + path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", contentType)
                .header("Authorization", "Bearer " + apiKey)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> admin(String method, String path, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + enforcer.port() + path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + adminToken)
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static LimitAnswer limit(UUID user) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                        URI.create("http://localhost:" + enforcer.port() + "/v1/limits/" + user))
                .header("Authorization", "Bearer " + apiKey).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return Json.read(response.body(), LimitAnswer.class);
    }
}
