package io.usagemeter.embedded;

import io.usagemeter.embedded.internal.BrokerFaults;
import io.usagemeter.embedded.internal.BrokerLogging;
import io.usagemeter.embedded.internal.Directories;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka (KRaft, broker and controller combined) running inside this JVM, for
 * tests, benchmarks and {@code meter dev}. No ZooKeeper, no Docker.
 *
 * <p>By default it listens on a free port and keeps its data in a temporary directory deleted on
 * {@link #close()}. With a chosen data directory the data survives: {@link #stop()} then
 * {@link #restart()} (same ports, so connected clients reconnect by themselves), or a later
 * {@link #start(Path, int)} on the same directory, keeps every topic and record.
 *
 * <p>Tuned for one node: internal topics have replication factor 1, consumer groups rebalance
 * without delay, and topics are never auto-created (every topic comes from the topic registry).
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);
    private static final int NODE_ID = 1;
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

    private final Path dataDir;
    private final boolean temporary;
    private final int port;
    private final int controllerPort;
    private final Map<String, String> overrides;
    private final Map<String, Short> featureLevels;
    private KafkaRaftServer server;

    private EmbeddedKafkaBroker(Path dataDir, boolean temporary, int port, int controllerPort, Map<String, String> overrides,
                                Map<String, Short> featureLevels) {
        this.dataDir = dataDir;
        this.temporary = temporary;
        this.port = port;
        this.controllerPort = controllerPort;
        this.overrides = Map.copyOf(overrides);
        this.featureLevels = Map.copyOf(featureLevels);
    }

    /** A throw-away broker in a temporary directory, on a free port. */
    public static EmbeddedKafkaBroker start() {
        return start(null, 0);
    }

    /**
     * A broker whose data lives in {@code dataDir} (kept across restarts), listening on {@code port}.
     *
     * @param dataDir the data directory (created and formatted when new), or {@code null} for a
     *     temporary one that is deleted on {@link #close()}
     * @param port the client port, or 0 for a free one
     */
    public static EmbeddedKafkaBroker start(Path dataDir, int port) {
        return start(dataDir, port, Map.of());
    }

    /** As {@link #start(Path, int)}, with broker configs that replace or add to the defaults. */
    public static EmbeddedKafkaBroker start(Path dataDir, int port, Map<String, String> brokerConfigOverrides) {
        return start(dataDir, port, brokerConfigOverrides, Map.of());
    }

    /**
     * As {@link #start(Path, int, Map)}; a new data directory is formatted with these feature levels
     * instead of the release's defaults, e.g. {@code transaction.version=1} to compare the
     * transaction protocols (an already formatted directory keeps its own).
     */
    public static EmbeddedKafkaBroker start(Path dataDir, int port, Map<String, String> brokerConfigOverrides,
                                            Map<String, Short> featureLevels) {
        BrokerLogging.quietByDefault();
        boolean temporary = dataDir == null;
        Path dir;
        try {
            dir = temporary ? Files.createTempDirectory("embedded-kafka-") : Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("could not create the Kafka data directory: " + e.getMessage(), e);
        }
        int clientPort = port > 0 ? port : freePort();
        int controllerPort = freePort();
        // Two probes in a row can be handed the same ephemeral port; the listeners need two.
        while (controllerPort == clientPort) {
            controllerPort = freePort();
        }
        EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(dir, temporary, clientPort, controllerPort,
                brokerConfigOverrides, featureLevels);
        try {
            broker.startServer();
        } catch (RuntimeException e) {
            broker.close();
            throw e;
        }
        return broker;
    }

    /**
     * Kafka halts the whole JVM when a broker or controller hits a fatal fault (for instance when
     * its metadata log cannot be flushed), without running shutdown hooks. From this call on, every
     * embedded broker in this JVM hands such a fault to {@code handler} instead, once, on a thread
     * of its own, with the fault Kafka logged and its root cause; the JVM keeps running so that the
     * caller can stop the rest in order and then exit. The broker that failed is unusable: stop it.
     */
    public static void onFatalFault(Consumer<String> handler) {
        BrokerFaults.handleWith(handler);
    }

    /** A fatal fault halts the JVM again, as Kafka does by default. */
    public static void haltOnFatalFault() {
        BrokerFaults.reset();
    }

    /** {@code host:port} for the clients' {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return "localhost:" + port;
    }

    public int port() {
        return port;
    }

    public Path dataDir() {
        return dataDir;
    }

    public synchronized boolean isRunning() {
        return server != null;
    }

    /** Shuts the broker down, keeping its data and ports for {@link #restart()}. */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        long started = System.nanoTime();
        try {
            server.shutdown();
            server.awaitShutdown();
        } finally {
            server = null;
        }
        log.info("Embedded Kafka on port {} stopped in {} ms", port, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /** Starts a stopped broker again on the same data directory and ports. */
    public synchronized void restart() {
        if (server != null) {
            throw new IllegalStateException("the broker on port " + port + " is running; stop it first");
        }
        startServer();
    }

    /** Stops the broker; a temporary data directory is deleted. */
    @Override
    public synchronized void close() {
        try {
            stop();
        } finally {
            if (temporary) {
                Directories.deleteRecursively(dataDir);
            }
        }
    }

    private synchronized void startServer() {
        long started = System.nanoTime();
        Properties props = brokerProperties();
        boolean usedBefore = !format(props);
        KafkaRaftServer raftServer = new KafkaRaftServer(KafkaConfig.fromProps(props), Time.SYSTEM);
        try {
            raftServer.startup();
            server = raftServer;
            awaitReady();
            if (usedBefore) {
                endHangingTransactions();
            }
        } catch (RuntimeException e) {
            server = null;
            raftServer.shutdown();
            raftServer.awaitShutdown();
            throw new IllegalStateException("embedded Kafka did not start on port " + port + ": " + e.getMessage(), e);
        }
        log.info("Embedded Kafka started on {} in {} ms (data in {})", bootstrapServers(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), dataDir);
    }

    private Properties brokerProperties() {
        Properties props = new Properties();
        props.put("process.roles", "broker,controller");
        props.put("node.id", Integer.toString(NODE_ID));
        props.put("controller.quorum.voters", NODE_ID + "@localhost:" + controllerPort);
        props.put("listeners", "PLAINTEXT://localhost:" + port + ",CONTROLLER://localhost:" + controllerPort);
        props.put("advertised.listeners", "PLAINTEXT://localhost:" + port);
        props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        props.put("controller.listener.names", "CONTROLLER");
        props.put("inter.broker.listener.name", "PLAINTEXT");
        props.put("log.dirs", dataDir.resolve("logs").toString());
        // One node: every internal topic must fit on it.
        props.put("offsets.topic.replication.factor", "1");
        props.put("offsets.topic.num.partitions", "10");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("transaction.state.log.num.partitions", "10");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        props.put("group.initial.rebalance.delay.ms", "0");
        // Topics come from the registry (TopicBootstrapper); a typo must fail, not create a topic.
        props.put("auto.create.topics.enable", "false");
        // The default 128 MiB compaction buffer per broker is far more than a dev node needs.
        props.put("log.cleaner.dedupe.buffer.size", Integer.toString(16 * 1024 * 1024));
        props.putAll(overrides);
        return props;
    }

    /** Formats the data directory on first use (true); an already formatted one is left as it is (false). */
    private boolean format(Properties props) {
        if (Files.exists(dataDir.resolve("logs").resolve("meta.properties"))) {
            return false;
        }
        Path config = dataDir.resolve("server.properties");
        try (OutputStream out = Files.newOutputStream(config)) {
            props.store(out, "embedded Kafka, written for the storage formatter");
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + config + ": " + e.getMessage(), e);
        }
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        List<String> args = new ArrayList<>(List.of("format", "-t", Uuid.randomUuid().toString(), "-c", config.toString()));
        featureLevels.forEach((feature, level) -> args.addAll(List.of("--feature", feature + "=" + level)));
        int exitCode;
        try (PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8)) {
            exitCode = StorageTool.execute(args.toArray(String[]::new), out);
        } catch (Exception e) {
            throw new IllegalStateException("could not format Kafka storage in " + dataDir + ": " + e.getMessage()
                    + " " + output.toString(StandardCharsets.UTF_8).trim(), e);
        }
        if (exitCode != 0) {
            throw new IllegalStateException("could not format Kafka storage in " + dataDir + " (exit " + exitCode + "): "
                    + output.toString(StandardCharsets.UTF_8).trim());
        }
        return true;
    }

    /**
     * A broker killed mid-commit can come back with transactions its coordinator decided but never
     * marked on some partitions ({@link HangingTransactions}); they are ended before anyone reads them.
     */
    private void endHangingTransactions() {
        Logger report = LoggerFactory.getLogger(HangingTransactions.LOGGER);
        try (Admin admin = Admin.create(adminProperties())) {
            HangingTransactions.Outcome outcome = HangingTransactions.complete(admin);
            for (HangingTransactions.Completion completion : outcome.completed()) {
                report.info("Embedded Kafka ended a transaction an unclean stop left open, as its coordinator had decided: {}",
                        completion);
            }
            for (HangingTransactions.Undecided undecided : outcome.undecided()) {
                report.warn("Embedded Kafka: {} holds an open transaction of producer {} (epoch {}, from offset {}) that its"
                                + " coordinator no longer tracks ({}); readers of committed data wait at it"
                                + " (docs/operations/kafka-transactions.md)",
                        undecided.open().partition(), undecided.open().producerId(), undecided.open().producerEpoch(),
                        undecided.open().startOffset(), undecided.coordinatorSays());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while ending transactions left open", e);
        } catch (RuntimeException e) {
            // The broker itself is up; what it could not end stays as it is, to be ended by hand.
            report.warn("Embedded Kafka could not check for transactions left open by an unclean stop: {}"
                    + " (docs/operations/kafka-transactions.md)", e.getMessage());
        }
    }

    /** Startup returns before the broker serves clients; wait until it answers a metadata request. */
    private void awaitReady() {
        try (Admin admin = Admin.create(adminProperties())) {
            admin.describeCluster().nodes().get(READY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the broker", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("the broker did not answer within " + READY_TIMEOUT.toSeconds() + " s", e);
        }
    }

    private Properties adminProperties() {
        Properties adminProps = new Properties();
        adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        adminProps.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        adminProps.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(READY_TIMEOUT.toMillis()));
        return adminProps;
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress("localhost", 0));
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port: " + e.getMessage(), e);
        }
    }
}
