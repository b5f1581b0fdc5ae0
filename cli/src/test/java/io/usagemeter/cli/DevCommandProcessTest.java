package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.cli.dev.DemoTraffic;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code meter dev} as a user runs it: a separate JVM on free ports and a temporary data
 * directory, stopped with SIGTERM, started again on the same data.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DevCommandProcessTest {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(150);
    private static final Pattern METRICS_URL = Pattern.compile("metrics (http://\\S+/metrics)");
    /** A log line (logback.xml's pattern) at TRACE, DEBUG, INFO or WARN. */
    private static final Pattern LOG_LINE_BELOW_ERROR =
            Pattern.compile("(?m)^\\d{2}:\\d{2}:\\d{2}\\.\\d{3} (TRACE|DEBUG|INFO |WARN ) ");
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    static Path work;

    private static int portBase;
    private static DevProcess first;
    private static Map<String, String> firstEnv;

    @AfterAll
    static void stopLeftovers() {
        if (first != null) {
            first.process.destroyForcibly();
        }
    }

    @Test
    @Order(1)
    void startsPrintsTheBannerAndWritesAWorkingDevEnv() throws Exception {
        portBase = freePortBase();
        first = DevProcess.start(work, "--data", work.resolve("data").toString(), "--port-base", Integer.toString(portBase));
        first.awaitLine("dev stack is up", START_TIMEOUT);

        Path devEnv = work.resolve("data").resolve("dev.env");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(devEnv))).isEqualTo("rw-------");
        firstEnv = readDevEnv(devEnv);
        assertThat(firstEnv).containsKeys("METER_INGEST_URL", "METER_ENFORCER_URL", "METER_API_KEY", "METER_ADMIN_TOKEN",
                "METER_KAFKA_BOOTSTRAP", "METER_DB_DEV_URL", "METER_DB_DEV_USER", "METER_DB_DEV_PASSWORD",
                "METER_DB_PROD_URL", "METER_DB_PROD_USER", "METER_DB_PROD_PASSWORD",
                "METER_DB_URL", "METER_DB_USER", "METER_DB_PASSWORD", "METER_NOTIFIER_URL");
        assertThat(firstEnv.get("METER_KAFKA_BOOTSTRAP")).isEqualTo("localhost:" + portBase);
        assertThat(firstEnv.get("METER_DB_DEV_PASSWORD")).hasSizeGreaterThanOrEqualTo(16);
        // The banner tells where the password is, never the password.
        assertThat(first.output()).doesNotContain(firstEnv.get("METER_DB_DEV_PASSWORD"))
                .contains("source ");

        Result status = meter(firstEnv, "schema", "status");
        assertThat(status.exitCode()).as(status.out() + status.err()).isZero();
        assertThat(status.out()).contains("environments agree").contains("pipeline support");

        // Real password authentication: the meter role with its password, and nothing without.
        try (Connection c = connect(firstEnv.get("METER_DB_URL"), "meter", firstEnv.get("METER_DB_PASSWORD"))) {
            c.createStatement().execute("CREATE TABLE dev_restart_probe (note text)");
            c.createStatement().execute("INSERT INTO dev_restart_probe VALUES ('kept')");
        }
        assertThat(canConnect(firstEnv.get("METER_DB_URL"), "meter", "not-the-password")).isFalse();
    }

    @Test
    @Order(2)
    void everyRunningServiceAnswersMetrics() throws Exception {
        List<String> urls = new ArrayList<>();
        Matcher m = METRICS_URL.matcher(first.output());
        while (m.find()) {
            urls.add(m.group(1));
        }
        assertThat(urls).as("at least the aggregator is in this build").isNotEmpty();
        for (String url : urls) {
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(URI.create(url)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(url).isEqualTo(200);
            assertThat(response.body()).as(url).contains("# TYPE");
        }
    }

    @Test
    @Order(3)
    void anEventPostedWithTheDevKeyShowsInTheEnforcersLimit() throws Exception {
        assertThat(post(firstEnv, "evt-dev-1").statusCode()).isEqualTo(202);
        assertThat(awaitUsed(firstEnv, 1)).contains("\"used\":1");
        HttpResponse<String> users = HTTP.send(HttpRequest.newBuilder(URI.create(firstEnv.get("METER_ENFORCER_URL")
                        + "/v1/admin/users")).header("Authorization", "Bearer " + firstEnv.get("METER_ADMIN_TOKEN")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(users.statusCode()).as("the dev admin token is accepted").isEqualTo(200);
    }

    @Test
    @Order(4)
    void demoTrafficEndsWithTheEnforcerCountingExactlyTheUniqueUnitsAndHonouringTheReset() throws Exception {
        // One instant for the demo and for the oracle below, so both mean the same month.
        Clock clock = Clock.fixed(Instant.now(), ZoneOffset.UTC);
        YearMonth month = YearMonth.now(clock);
        DemoTraffic demo = new DemoTraffic(new DemoTraffic.Settings(40, 7, 200, 50_000),
                DemoTraffic.Endpoints.fromEnvironment(firstEnv), clock);
        List<DemoTraffic.Progress> progress = Collections.synchronizedList(new ArrayList<>());
        DemoTraffic.Summary summary = demo.run(progress::add);

        assertThat(summary.refused()).isZero();
        assertThat(summary.duplicatesSent()).isPositive();
        assertThat(progress).last().satisfies(p -> assertThat(p.done()).isTrue());

        // The oracle is what the stack's topics hold, read here: each (user, event_id) once, in the month of
        // its occurred_at, after the month's latest reset. Nothing of DemoTraffic's own bookkeeping is used.
        Map<UUID, Long> expected = unitsFromTheTopics(firstEnv.get("METER_KAFKA_BOOTSTRAP"), month, demo.users());
        assertThat(expected.get(summary.resetUser())).as("the reset user's units after the reset").isZero();
        assertThat(expected.values().stream().mapToLong(Long::longValue).sum()).isPositive();
        for (UUID user : demo.users()) {
            assertThat(demo.limit(user)).as("limit of %s", user)
                    .hasValueSatisfying(limit -> assertThat(limit.used()).isEqualTo(expected.get(user)));
        }
        assertThat(summary.caughtUp()).isTrue();
        // The table is what the enforcer answers, most used first.
        for (DemoTraffic.UserLimit row : summary.top(10)) {
            assertThat(demo.limit(row.userId())).contains(row);
        }
        assertThat(summary.top(10)).isSortedAccordingTo((a, b) -> Long.compare(b.used(), a.used()));
    }

    /** Units of {@code month} per user, computed from the committed events and usage resets on the dev broker. */
    private static Map<UUID, Long> unitsFromTheTopics(String bootstrap, YearMonth month, List<UUID> users) {
        Map<String, UsageEvent> firstCopy = new LinkedHashMap<>();
        for (byte[] value : committedValues(bootstrap, Topics.USAGE_EVENTS.name())) {
            UsageEvent e = Topics.USAGE_EVENTS.valueSerde().deserializer().deserialize(Topics.USAGE_EVENTS.name(), value);
            firstCopy.putIfAbsent(e.userId() + "/" + e.eventId(), e);
        }
        Map<UUID, Instant> latestReset = new HashMap<>();
        for (byte[] value : committedValues(bootstrap, Topics.ADMIN_COMMANDS.name())) {
            AdminCommand command = Topics.ADMIN_COMMANDS.valueSerde().deserializer()
                    .deserialize(Topics.ADMIN_COMMANDS.name(), value);
            if (command instanceof AdminCommand.ResetUsage reset && reset.month().equals(month)) {
                latestReset.merge(reset.userId(), reset.resetAt(), (a, b) -> a.isAfter(b) ? a : b);
            }
        }
        Map<UUID, Long> units = new HashMap<>();
        users.forEach(user -> units.put(user, 0L));
        for (UsageEvent e : firstCopy.values()) {
            Instant reset = latestReset.get(e.userId());
            if (units.containsKey(e.userId()) && YearMonth.from(e.occurredAt().atOffset(ZoneOffset.UTC)).equals(month)
                    && (reset == null || e.occurredAt().isAfter(reset))) {
                units.merge(e.userId(), e.units(), Long::sum);
            }
        }
        return units;
    }

    /** Every committed record value of {@code topic}, read up to its end offsets as they are now. */
    private static List<byte[]> committedValues(String bootstrap, String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        List<byte[]> values = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(info -> new TopicPartition(topic, info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                assertThat(System.nanoTime()).as("read %s to its end offsets %s", topic, end).isLessThan(deadline);
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.value() != null) {
                        values.add(r.value());
                    }
                }
            }
        }
        return values;
    }

    @Test
    @Order(5)
    void aConnectionFloodOnEveryHttpPortLeavesTheBrokerPostgresAndEveryServiceWorking() throws Exception {
        Matcher capLine = Pattern.compile("HTTP connections capped at ([\\d,]+) per service").matcher(first.output());
        assertThat(capLine.find()).as(first.output()).isTrue();
        int cap = Integer.parseInt(capLine.group(1).replace(",", ""));
        List<URI> services = new ArrayList<>();
        for (Matcher m = METRICS_URL.matcher(first.output()); m.find(); ) {
            services.add(URI.create(m.group(1).replace("/metrics", "")));
        }
        URI ingest = URI.create(firstEnv.get("METER_INGEST_URL"));
        assertThat(services.stream().map(URI::getPort)).as("every HTTP service prints its metrics URL")
                .contains(ingest.getPort(), URI.create(firstEnv.get("METER_ENFORCER_URL")).getPort(),
                        URI.create(firstEnv.get("METER_NOTIFIER_URL")).getPort());
        String event = "flood-" + UUID.randomUUID();

        List<KeptConnection> kept = new ArrayList<>();
        List<SocketChannel> flood = new ArrayList<>();
        try {
            for (URI service : services) {
                KeptConnection c = new KeptConnection(service.getPort());
                kept.add(c);
                assertThat(c.send("GET", "/health/live", null, null)).as(service.toString()).isEqualTo(200);
            }
            // Every port at once, each with far more idle connections than its cap. Connects are not waited
            // for one by one (a full accept queue would hold each up to a timeout): all are started, then counted.
            int perService = 4 * cap + 100;
            Map<URI, List<SocketChannel>> byService = new LinkedHashMap<>();
            for (URI service : services) {
                List<SocketChannel> channels = new ArrayList<>();
                for (int i = 0; i < perService; i++) {
                    SocketChannel channel = SocketChannel.open();
                    flood.add(channel);
                    channel.configureBlocking(false);
                    channel.connect(new InetSocketAddress("localhost", service.getPort()));
                    channels.add(channel);
                }
                byService.put(service, channels);
            }
            Thread.sleep(2_000);
            Map<URI, Integer> connected = new LinkedHashMap<>();
            byService.forEach((service, channels) -> connected.put(service, (int) channels.stream().filter(c -> {
                try {
                    return c.finishConnect();
                } catch (IOException refused) {
                    return false;
                }
            }).count()));
            assertThat(connected.values()).as("the flood reached every service, past its cap: %s", connected)
                    .allSatisfy(n -> assertThat(n).isGreaterThan(cap));

            assertThat(first.process.isAlive()).as("meter dev survives the flood: " + first.errors()).isTrue();
            for (int i = 0; i < services.size(); i++) {
                assertThat(kept.get(i).send("GET", "/health/live", null, null)).as("alive during the flood: " + services.get(i))
                        .isEqualTo(200);
            }
            assertThat(kept.get(ingestIndex(services, ingest)).send("POST", "/v1/events", firstEnv.get("METER_API_KEY"),
                    eventJson(event, FLOOD_USER))).as("a valid event on a connection opened before the flood").isEqualTo(202);
            // The broker took it (acks=all) and serves it to a new consumer; PostgreSQL takes a new session and a write.
            assertThat(committedValues(firstEnv.get("METER_KAFKA_BOOTSTRAP"), Topics.USAGE_EVENTS.name()).stream()
                    .map(v -> new String(v, StandardCharsets.UTF_8))).as("the flood-time event in the topic")
                    .anySatisfy(v -> assertThat(v).contains(event));
            try (Connection db = connect(firstEnv.get("METER_DB_URL"), "meter", firstEnv.get("METER_DB_PASSWORD"))) {
                db.createStatement().execute("CREATE TEMPORARY TABLE flood_probe (n int)");
                assertThat(db.createStatement().executeUpdate("INSERT INTO flood_probe VALUES (1)")).isEqualTo(1);
            }
        } finally {
            for (SocketChannel channel : flood) {
                channel.close();
            }
            for (KeptConnection c : kept) {
                c.close();
            }
        }
        // Once the flood is gone, a fresh connection is served.
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try (KeptConnection fresh = new KeptConnection(ingest.getPort())) {
                assertThat(fresh.send("POST", "/v1/events", firstEnv.get("METER_API_KEY"), eventJson(event + "-after", FLOOD_USER)))
                        .isEqualTo(202);
                break;
            } catch (IOException stillClosing) {
                assertThat(System.nanoTime()).as("a fresh connection within 10 s: " + stillClosing).isLessThan(deadline);
                Thread.sleep(100);
            }
        }
        assertThat(first.output() + first.errors()).doesNotContain("Too many open files");
    }

    private static int ingestIndex(List<URI> services, URI ingest) {
        for (int i = 0; i < services.size(); i++) {
            if (services.get(i).getPort() == ingest.getPort()) {
                return i;
            }
        }
        throw new AssertionError("no ingest among " + services);
    }

    /** One keep-alive HTTP/1.1 connection, requests written by hand, so that "the same connection" is certain. */
    private static final class KeptConnection implements AutoCloseable {
        private final java.net.Socket socket;
        private final java.io.DataInputStream in;

        KeptConnection(int port) throws IOException {
            socket = new java.net.Socket();
            socket.connect(new InetSocketAddress("localhost", port), 2_000);
            socket.setSoTimeout(10_000);
            in = new java.io.DataInputStream(new java.io.BufferedInputStream(socket.getInputStream()));
        }

        /** Sends one request and reads its whole answer (framed by Content-Length); returns the status. */
        int send(String method, String path, String apiKey, String json) throws IOException {
            byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
            String head = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\n"
                    + (apiKey == null ? "" : "Authorization: Bearer " + apiKey + "\r\n")
                    + (json == null ? "" : "Content-Type: application/json\r\n")
                    + "Content-Length: " + body.length + "\r\n\r\n";
            socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().write(body);
            socket.getOutputStream().flush();
            String status = line();
            long length = 0;
            for (String header = line(); !header.isEmpty(); header = line()) {
                if (header.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                    length = Long.parseLong(header.substring("content-length:".length()).strip());
                }
            }
            in.skipNBytes(length);
            return Integer.parseInt(status.split(" ")[1]);
        }

        private String line() throws IOException {
            StringBuilder s = new StringBuilder();
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b < 0) {
                    throw new IOException("connection closed mid-answer");
                }
                if (b != '\r') {
                    s.append((char) b);
                }
            }
            return s.toString();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @Test
    @Order(6)
    void aSecondStackOnTheSameDataIsRefusedInOneLine() throws Exception {
        DevProcess second = DevProcess.start(work, "--data", work.resolve("data").toString(),
                "--port-base", Integer.toString(freePortBase()));
        assertThat(second.awaitExit(60)).isTrue();
        assertThat(second.process.exitValue()).isEqualTo(1);
        assertThat(second.errorLines()).anySatisfy(line -> assertThat(line)
                .startsWith("meter dev: data directory ")
                .contains("is in use by another meter dev (pid " + first.process.pid() + ")"));
        assertThat(second.errors()).doesNotContain("\tat ");
    }

    @Test
    @Order(7)
    void portsInUseAreNamedInOneLine() throws Exception {
        DevProcess clash = DevProcess.start(work, "--data", work.resolve("other").toString(),
                "--port-base", Integer.toString(portBase));
        assertThat(clash.awaitExit(60)).isTrue();
        assertThat(clash.process.exitValue()).isEqualTo(1);
        assertThat(clash.errorLines()).contains("meter dev: port " + portBase + " (Kafka) is in use: stop what listens"
                + " there, or move the whole stack with --port-base (e.g. --port-base 7500)");
    }

    @Test
    @Order(8)
    void sigtermStopsEverythingWithExitZeroAndARestartKeepsTheData() throws Exception {
        assertThat(first.process.isAlive()).as("still running before SIGTERM: " + first.output() + first.errors()).isTrue();
        first.sigterm();
        assertThat(first.awaitExit(10)).as("stopped within 10 s").isTrue();
        assertThat(first.process.exitValue()).isZero();
        assertThat(first.output()).as(first.errors()).contains("meter dev: stopped");

        // The terminal held the banner and no log line below ERROR (the demo traffic above ran exactly-once
        // producers through it); the services' own lines are in their files under the data directory.
        assertThat(first.output()).contains("meter dev: logs in ");
        assertThat(first.output() + "\n" + first.errors()).as("terminal").doesNotContainPattern(LOG_LINE_BELOW_ERROR);
        Path logs = work.resolve("data").resolve("logs");
        assertThat(Files.readString(logs.resolve("ingest.log"))).contains("INFO ").contains("ingest listening on port");
        assertThat(Files.readString(logs.resolve("aggregator.log"))).contains("aggregator serves /metrics");
        assertThat(Files.readString(logs.resolve("enforcer.log"))).contains("enforcer listening on");
        assertThat(Files.readString(logs.resolve("notifier.log"))).contains("notifier listening on");
        assertThat(logs.resolve("postgresql.log")).isNotEmptyFile();

        DevProcess again = DevProcess.start(work, "--data", work.resolve("data").toString(),
                "--port-base", Integer.toString(portBase));
        try {
            again.awaitLine("dev stack is up", START_TIMEOUT);
            Map<String, String> env = readDevEnv(work.resolve("data").resolve("dev.env"));
            // Same data directory, same secrets: what the shell loaded before still works, except the admin
            // token, issued fresh (24 h) at every start.
            Map<String, String> withoutToken = new java.util.HashMap<>(env);
            Map<String, String> firstWithoutToken = new java.util.HashMap<>(firstEnv);
            withoutToken.remove("METER_ADMIN_TOKEN");
            firstWithoutToken.remove("METER_ADMIN_TOKEN");
            assertThat(withoutToken).isEqualTo(firstWithoutToken);
            assertThat(env.get("METER_ADMIN_TOKEN")).isNotBlank();
            try (Connection c = connect(env.get("METER_DB_URL"), "meter", env.get("METER_DB_PASSWORD"));
                 ResultSet rs = c.createStatement().executeQuery("SELECT note FROM dev_restart_probe")) {
                assertThat(rs.next()).isTrue();
                assertThat(rs.getString(1)).isEqualTo("kept");
            }
            Result status = meter(env, "schema", "status");
            assertThat(status.exitCode()).isZero();
            assertThat(status.out()).doesNotContain("pending");
            // The usage counted before the restart is still there, and the same API key still works.
            assertThat(awaitUsed(env, 1)).contains("\"used\":1");
            assertThat(post(env, "evt-dev-2").statusCode()).isEqualTo(202);
            assertThat(awaitUsed(env, 2)).contains("\"used\":2");
        } finally {
            again.sigterm();
            assertThat(again.awaitExit(10)).isTrue();
            assertThat(again.process.exitValue()).isZero();
        }
    }

    // --- helpers -------------------------------------------------------------------------------

    private static final String USER = "3f2b8c1e-9d4a-4e6b-8c2d-1a2b3c4d5e6f";
    /** Not {@link #USER}, whose usage the other tests count. */
    private static final String FLOOD_USER = "7a1d2e3f-4b5c-4d6e-8f70-8192a3b4c5d6";

    private static HttpResponse<String> post(Map<String, String> env, String eventId) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(env.get("METER_INGEST_URL") + "/v1/events"))
                        .header("Authorization", "Bearer " + env.get("METER_API_KEY"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(eventJson(eventId))).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String eventJson(String eventId) {
        return eventJson(eventId, USER);
    }

    private static String eventJson(String eventId, String user) {
        return "{\"event_id\":\"" + eventId + "\",\"user_id\":\"" + user + "\",\"occurred_at\":\""
                + java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + "\",\"provider\":\"openai\","
                + "\"endpoint\":\"/v1/chat/completions\",\"method\":\"POST\",\"status_code\":200,"
                + "\"response_time_ms\":420,\"request_bytes\":512,\"response_bytes\":2048}";
    }

    /** The limit answer once it counts {@code used} units (the stream is asynchronous), or the last one seen. */
    private static String awaitUsed(Map<String, String> env, int used) throws Exception {
        String last = "";
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(
                    URI.create(env.get("METER_ENFORCER_URL") + "/v1/limits/" + USER))
                    .header("Authorization", "Bearer " + env.get("METER_API_KEY")).build(), HttpResponse.BodyHandlers.ofString());
            last = response.statusCode() + " " + response.body();
            if (response.statusCode() == 200 && response.body().contains("\"used\":" + used + ",")) {
                return response.body();
            }
            Thread.sleep(200);
        }
        return last;
    }

    record Result(int exitCode, String out, String err) {}

    private static Result meter(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Meter.commandLine(env, new ByteArrayInputStream(new byte[0]));
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        return new Result(cl.execute(args), out.toString(), err.toString());
    }

    /** Reads {@code export NAME='value'} lines the way the shell would. */
    static Map<String, String> readDevEnv(Path file) throws IOException {
        Map<String, String> vars = new LinkedHashMap<>();
        Pattern line = Pattern.compile("export ([A-Z0-9_]+)='(.*)'");
        for (String text : Files.readAllLines(file)) {
            Matcher m = line.matcher(text);
            if (m.matches()) {
                vars.put(m.group(1), m.group(2).replace("'\\''", "'"));
            }
        }
        return vars;
    }

    private static Connection connect(String url, String user, String password) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password);
        return DriverManager.getConnection(url, props);
    }

    private static boolean canConnect(String url, String user, String password) {
        try (Connection ignored = connect(url, user, password)) {
            return true;
        } catch (Exception e) {
            return false;
        }
    }

    /** A base whose every dev port (N, N+1, N+10, N+20, N+30, N+40) is free now. */
    static int freePortBase() {
        for (int attempt = 0; attempt < 50; attempt++) {
            int base = ThreadLocalRandom.current().nextInt(20_000, 30_000);
            if (List.of(0, 1, 10, 20, 30, 40).stream().allMatch(offset -> free(base + offset))) {
                return base;
            }
        }
        throw new IllegalStateException("no free port base found");
    }

    private static boolean free(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** {@code meter dev} in its own JVM with this test's classpath, its output collected line by line. */
    static final class DevProcess {
        final Process process;
        private final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        private final List<String> errors = Collections.synchronizedList(new ArrayList<>());

        private final List<Thread> pumps;

        private DevProcess(Process process) {
            this.process = process;
            this.pumps = List.of(pump(process.getInputStream(), lines), pump(process.getErrorStream(), errors));
        }

        /** SIGTERM, keeping the pipes open to read the last lines ({@link Process#destroy()} closes them). */
        void sigterm() {
            process.toHandle().destroy();
        }

        /** Waits for the exit and for the last lines it wrote; false when still running after {@code seconds}. */
        boolean awaitExit(long seconds) throws InterruptedException {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                return false;
            }
            for (Thread pump : pumps) {
                pump.join(5_000);
            }
            return true;
        }

        static DevProcess start(Path workDir, String... args) throws IOException {
            List<String> command = new ArrayList<>(List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx768m", "-cp", System.getProperty("java.class.path"), Meter.class.getName(), "dev"));
            command.addAll(List.of(args));
            ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile());
            builder.environment().keySet().removeIf(name -> name.startsWith("METER_"));
            return new DevProcess(builder.start());
        }

        void awaitLine(String fragment, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                if (output().contains(fragment)) {
                    return;
                }
                if (!process.isAlive()) {
                    throw new AssertionError("meter dev exited " + process.exitValue() + " before '" + fragment
                            + "'\nstdout:\n" + output() + "\nstderr:\n" + errors());
                }
                Thread.sleep(100);
            }
            throw new AssertionError("no '" + fragment + "' within " + timeout + "\nstdout:\n" + output()
                    + "\nstderr:\n" + errors());
        }

        String output() {
            synchronized (lines) {
                return String.join("\n", lines);
            }
        }

        String errors() {
            synchronized (errors) {
                return String.join("\n", errors);
            }
        }

        List<String> errorLines() {
            synchronized (errors) {
                return List.copyOf(errors);
            }
        }

        private static Thread pump(InputStream stream, List<String> into) {
            Thread t = new Thread(() -> {
                try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = reader.readLine()) != null) {
                        into.add(line);
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            }, "meter-dev-output");
            t.setDaemon(true);
            t.start();
            return t;
        }
    }
}
