package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine;

/** {@code meter load} against a running ingest service on the embedded broker and PostgreSQL. */
class LoadCommandTest {

    private static TestStack kafka;
    private static TestStack postgres;
    private static IngestService ingest;
    private static Map<String, String> env;
    private static String dbUrl;

    @BeforeAll
    static void start() throws Exception {
        kafka = TestStack.start();
        postgres = TestStack.withSharedBroker();
        String url = postgres.jdbcUrl("meter");
        dbUrl = url;
        Flyway.configure().dataSource(url, postgres.user(), postgres.password())
                .locations("classpath:db/migration").load().migrate();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.kafkaBootstrap()))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser(postgres.user());
        ds.setPassword(postgres.password());
        String apiKey = new ApiKeyStore(ds, Clock.systemUTC()).issue("load-test", Set.of(ApiKeyScopes.EVENTS_WRITE)).secret();
        ingest = IngestService.create(IngestConfig.defaults(kafka.kafkaBootstrap(), url, postgres.user(), postgres.password())
                .withPort(0)).start();
        env = Map.of("METER_INGEST_URL", "http://localhost:" + ingest.port(), "METER_API_KEY", apiKey);
    }

    @AfterAll
    static void stop() {
        if (ingest != null) {
            ingest.close();
        }
        if (postgres != null) {
            if (postgres != null) {
                postgres.close();
            }
        }
        if (kafka != null) {
            if (kafka != null) {
                kafka.close();
            }
        }
    }

    private record Run(int exit, String out, String err) {}

    private static Run run(Map<String, String> environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new LoadCommand(environment)).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .setExecutionExceptionHandler(new OneLineErrors()).execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void sendsRateTimesDurationEventsOverTheGivenUsersAndReportsTheirLatency() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.kafkaBootstrap());
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        try (var consumer = new KafkaConsumer<>(p, Topics.USAGE_EVENTS.keySerde().deserializer(),
                Topics.USAGE_EVENTS.valueSerde().deserializer())) {
            // Only this run's events: other tests load the same topic.
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.USAGE_EVENTS.name()).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.endOffsets(partitions).forEach(consumer::seek);

            Run load = run(env, "--rate", "100", "--users", "7", "--duration", "2s", "--batch", "5");

            assertThat(load.exit()).as(load.err()).isZero();
            assertThat(load.out()).contains("events accepted 200").contains("answers: 202 40\n").contains("p99")
                    .doesNotContain("retries:");

            List<UsageEvent> events = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (events.size() < 200 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> events.add(r.value()));
            }
            assertThat(events).hasSize(200);
            Set<UUID> users = new HashSet<>();
            Set<String> ids = new HashSet<>();
            events.forEach(e -> {
                users.add(e.userId());
                ids.add(e.eventId());
            });
            assertThat(users).hasSize(7);
            assertThat(ids).hasSize(200);
        }
    }

    @Test
    void rateMaxIsAClosedLoopThatReportsWhatTheServerTookAndTheGeneratorsOwnCpu() {
        Run load = run(env, "--rate", "max", "--users", "3", "--duration", "1s", "--connections", "4");

        assertThat(load.exit()).as(load.out() + load.err()).isZero();
        assertThat(load.err()).contains("offering a closed loop");
        Matcher accepted = Pattern.compile("events accepted ([\\d,]+) \\((\\d+)/s in a closed loop\\)").matcher(load.out());
        assertThat(accepted.find()).as(load.out()).isTrue();
        long events = Long.parseLong(accepted.group(1).replace(",", ""));
        assertThat(events).as("a closed loop sends until the duration passed, more than one round of 4").isGreaterThan(4);
        assertThat(load.out()).contains("answers: 202 " + accepted.group(1) + "\n")
                .contains("closed loop: each connection sent its next request when its answer was read")
                .containsPattern("generator: [\\d.]+ s of CPU in [\\d.]+ s \\(\\d+% of one core\\)")
                .doesNotContain("behind schedule");
    }

    @Test
    void aRateThatIsNeitherANumberNorMaxIsAOneLineErrorNamingTheOption() {
        Run soon = run(env, "--rate", "fast");
        assertThat(soon.exit()).isEqualTo(1);
        assertThat(soon.err()).contains("--rate").contains("fast");

        Run retried = run(env, "--rate", "max", "--retry");
        assertThat(retried.exit()).isEqualTo(1);
        assertThat(retried.err()).contains("--retry").contains("--rate max");
    }

    @Test
    void aStoppedServerIsReportedAsConnectRefusedByNameAndFailsTheRun() throws Exception {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        Run load = run(Map.of("METER_INGEST_URL", "http://localhost:" + closedPort, "METER_API_KEY", "x"),
                "--rate", "50", "--duration", "1s");

        assertThat(load.exit()).isEqualTo(1);
        assertThat(load.out()).contains("answers: connect refused 50\n").contains("events accepted 0")
                .doesNotContain("-1");
    }

    @Test
    void aServerThatDiesMidRunEndsEveryRequestWithAKindAndTheRunStillEnds() throws Exception {
        IngestService dying = IngestService.create(IngestConfig.defaults(kafka.kafkaBootstrap(), dbUrl,
                postgres.user(), postgres.password()).withPort(0)).start();
        Map<String, String> dyingEnv = Map.of("METER_INGEST_URL", "http://localhost:" + dying.port(),
                "METER_API_KEY", env.get("METER_API_KEY"));
        Thread stop = new Thread(() -> {
            LockSupport.parkNanos(Duration.ofMillis(1500).toNanos());
            dying.close();
        });
        stop.start();
        Run load = run(dyingEnv, "--rate", "100", "--duration", "3s", "--timeout", "2s");
        stop.join();

        assertThat(load.exit()).isEqualTo(1);
        Matcher answers = Pattern.compile("answers: (.*)\\n").matcher(load.out());
        assertThat(answers.find()).as(load.out()).isTrue();
        assertThat(answers.group(1)).startsWith("202 ").contains("connect refused ");
        long total = 0;
        for (Matcher n = Pattern.compile("(?:^|· )[^·(]*? ([\\d,]+)(?: \\([^)]*\\))?(?= ·|$)").matcher(answers.group(1)); n.find(); ) {
            total += Long.parseLong(n.group(1).replace(",", ""));
        }
        assertThat(total).as("every one of the 300 requests ended with a kind: " + answers.group(1)).isEqualTo(300);
    }

    @Test
    void neverHoldsMoreConnectionsThanAskedAndReusesThem() throws Exception {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/net/tcp")), "counts sockets in /proc/net");
        int port = ingest.port();
        AtomicInteger most = new AtomicInteger();
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                most.accumulateAndGet(establishedTo(port), Math::max);
                LockSupport.parkNanos(2_000_000);
            }
        });
        sampler.start();
        Run load;
        try {
            load = run(env, "--rate", "400", "--users", "3", "--duration", "2s", "--connections", "3");
        } finally {
            sampling.set(false);
            sampler.join();
        }

        assertThat(load.exit()).as(load.err()).isZero();
        assertThat(load.out()).contains("answers: 202 800\n").contains("at most 3 connections");
        assertThat(most.get()).as("server-side connections seen at once").isBetween(1, 3);
        Matcher opened = Pattern.compile("\\((\\d+) opened\\)").matcher(load.out());
        assertThat(opened.find()).isTrue();
        assertThat(Integer.parseInt(opened.group(1))).as("kept alive, not one per request").isLessThanOrEqualTo(6);
    }

    /** Accepted connections to {@code port} in this JVM's network namespace, from /proc/net/tcp and tcp6. */
    private static int establishedTo(int port) {
        String local = String.format(":%04X ", port);
        int n = 0;
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            try {
                for (String line : Files.readAllLines(Path.of(table))) {
                    String[] f = line.trim().split("\\s+");
                    // local_address is field 1, state field 3; 01 = ESTABLISHED.
                    if (f.length > 3 && (f[1] + " ").endsWith(local) && f[3].equals("01")) {
                        n++;
                    }
                }
            } catch (IOException e) {
                // tcp6 may be absent
            }
        }
        return n;
    }

    @Test
    void withRetryRequestsRefusedDuringABrokerOutageAreSentAgainUntilAcceptedAndCountedApart() throws Exception {
        TestStack.requireEmbedded("it stops a broker and restarts it on the same data");
        try (EmbeddedKafkaBroker outage = EmbeddedKafkaBroker.start()) {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, outage.bootstrapServers()))) {
                TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
            }
            try (IngestService flaky = IngestService.create(IngestConfig.defaults(outage.bootstrapServers(), dbUrl,
                            postgres.user(), postgres.password()).withPort(0)
                    .withTimeouts(Duration.ofMillis(800), IngestConfig.DEFAULT_API_KEY_CACHE_TTL)).start()) {
                Map<String, String> flakyEnv = Map.of("METER_INGEST_URL", "http://localhost:" + flaky.port(),
                        "METER_API_KEY", env.get("METER_API_KEY"));
                outage.stop();
                Thread restart = new Thread(() -> {
                    LockSupport.parkNanos(Duration.ofSeconds(4).toNanos());
                    outage.restart();
                });
                restart.start();
                Run load = run(flakyEnv, "--rate", "10", "--duration", "2s", "--retry", "90s");
                restart.join();

                assertThat(load.exit()).as(load.out() + load.err()).isZero();
                assertThat(load.out()).contains("events accepted 20 ").containsPattern("answers: .*503 with Retry-After")
                        .containsPattern("retries: [\\d,]+ sent, answered .*202").contains("gave up on 0 requests");
            }
        }
    }

    @Test
    void aMissingIngestUrlOrKeyIsAOneLineErrorNamingTheVariable() {
        Run noUrl = run(Map.of("METER_API_KEY", "x"), "--rate", "10");
        assertThat(noUrl.exit()).isEqualTo(1);
        assertThat(noUrl.err()).contains("METER_INGEST_URL is not set");

        Run noKey = run(Map.of("METER_INGEST_URL", "http://localhost:1"), "--rate", "10");
        assertThat(noKey.exit()).isEqualTo(1);
        assertThat(noKey.err()).contains("METER_API_KEY is not set");
    }

    @Test
    void durationsReadShortFormsInAnyCaseAndIso8601() {
        // Every unit is covered by MeterEnvironmentTest; here what --duration adds: any case, its own message.
        assertThat(LoadCommand.parseDuration("--duration", "30S")).isEqualTo(Duration.ofSeconds(30));
        assertThat(LoadCommand.parseDuration("--duration", "PT2M")).isEqualTo(Duration.ofMinutes(2));
        assertThatThrownBy(() -> LoadCommand.parseDuration("--timeout", "soon")).hasMessageContaining("--timeout");
    }
}
