package io.usagemeter.cli.dev;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.schema.sync.DatabaseEnvironment;
import io.usagemeter.schema.sync.EnvironmentStatus;
import io.usagemeter.schema.sync.MigrationSource;
import io.usagemeter.schema.sync.MigrationStatus;
import io.usagemeter.schema.sync.SchemaMigrator;
import io.usagemeter.schema.sync.SyncOutcome;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code meter dev}: locks the data directory, checks the ports, starts Kafka, PostgreSQL (two
 * databases synced by {@link SchemaMigrator}, as {@code meter schema sync} does), the topics and
 * every service in this build, writes {@code dev.env}, prints the banner, and on Ctrl-C or
 * SIGTERM stops everything in reverse order.
 */
public final class DevRunner {

    private static final Logger log = LoggerFactory.getLogger(DevRunner.class);
    static final Duration READY_TIMEOUT = Duration.ofSeconds(180);
    /** A PostgreSQL left running by a killed meter dev gets this long to stop on the next start. */
    static final Duration LEFTOVER_STOP_TIMEOUT = Duration.ofSeconds(30);
    /** After the broker's fatal fault, the stack gets this long to stop in order before PostgreSQL is stopped alone. */
    static final Duration FAULT_STOP_TIMEOUT = Duration.ofSeconds(60);
    /** A new data directory's broker is formatted with transactions version 1 (docs/operations/kafka-transactions.md). */
    static final Map<String, Short> KAFKA_FEATURE_LEVELS = Map.of("transaction.version", (short) 1);

    /**
     * What the command line asked for.
     *
     * @param verbose the services' logs on the terminal too (they always go to {@code <data>/logs/})
     */
    public record Options(Path dataDir, boolean fresh, boolean demo, int portBase, boolean verbose) {}

    private final Options options;
    private final Map<String, String> processEnv;
    private final PrintWriter out;
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final AtomicReference<String> brokerFault = new AtomicReference<>();
    private volatile boolean stackClosed;

    private DevSecrets secrets;
    private Map<String, String> shellVars;
    private Map<String, String> serviceVars;
    private EmbeddedKafkaBroker kafka;
    private EmbeddedPostgresServer postgres;
    private String schemaVersion = "?";
    private ConnectionBudget connectionBudget;

    public DevRunner(Options options, Map<String, String> processEnv, PrintWriter out) {
        this.options = options;
        this.processEnv = Map.copyOf(processEnv);
        this.out = out;
    }

    /** Runs until {@link #requestStop()} (Ctrl-C, SIGTERM); returns the exit code. */
    public int run() throws InterruptedException {
        long started = System.nanoTime();
        DevPorts ports = new DevPorts(options.portBase());
        List<DevServices.Service> services = DevServices.all();
        List<String> names = services.stream().map(DevServices.Service::name).toList();

        try (DevDataDir dataDir = DevDataDir.open(options.dataDir(), options.fresh());
             DevLogs logs = DevLogs.install(dataDir.root(), options.verbose(), processEnv.get("METER_LOG_LEVEL"))) {
            oneLineRecoveriesUnlessAsked();
            stopLeftoverPostgres(dataDir);
            DevPorts.requireFree(ports.uses(names));
            connectionBudget = ConnectionBudget.of(ConnectionBudget.processLimit(), names.size(), processEnv);
            DevSecrets generated = DevSecrets.loadOrCreate(dataDir.secrets());
            secrets = generated.withAdminToken(new AdminTokens(generated.adminJwtSecret(), Clock.systemUTC())
                    .issue(AdminTokens.DEV_ADMIN_EMAIL));
            secrets.save(dataDir.secrets());
            setVariables(ports, dataDir);

            out.println("meter dev: starting in " + dataDir.root() + (options.fresh() ? " (fresh)" : "")
                    + " (" + connectionBudget.describe() + ")");
            out.println("meter dev: logs in " + DevBanner.display(logs.directory())
                    + (options.verbose() ? " and here" : " (--verbose shows them here too)"));
            connectionBudget.warning().ifPresent(warning -> out.println("meter dev: " + warning));
            out.flush();
            List<DevStack.Component> components = new ArrayList<>(List.of(
                    DevStack.Component.of("kafka", () -> {
                        kafka = EmbeddedKafkaBroker.start(dataDir.kafka(), ports.kafka(), Map.of(), KAFKA_FEATURE_LEVELS);
                        return kafka;
                    }),
                    DevStack.Component.of("postgresql", () -> {
                        postgres = EmbeddedPostgresServer.start(dataDir.postgres(), ports.postgres(),
                                secrets.postgresSuperuserPassword());
                        return postgres;
                    }),
                    DevStack.Component.of("schema", () -> syncSchema(shellVars)),
                    DevStack.Component.of("topics", this::createTopics),
                    DevStack.Component.of("api key", () -> {
                        secrets = secrets.withApiKey(DevApiKey.keepOrIssue(secrets.apiKey(), serviceVars));
                        secrets.save(dataDir.secrets());
                        setVariables(ports, dataDir);
                        return () -> { };
                    })));
            for (DevServices.Service service : services) {
                components.add(DevStack.Component.of(service.name(), () -> {
                    AutoCloseable running = DevLogs.starting(service.name(),
                            () -> service.starter().start(this.serviceVars));
                    try {
                        Readiness.await(service.name(), service.url(ports), READY_TIMEOUT);
                    } catch (RuntimeException | InterruptedException e) {
                        running.close();
                        throw e;
                    }
                    return running;
                }));
            }

            DevStack stack = new DevStack(components);
            Thread hook = new Thread(() -> stop(stack), "meter-dev-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            StopSignals.install(this::requestStop);
            EmbeddedKafkaBroker.onFatalFault(this::brokerFailed);
            try {
                stack.start(line -> {
                    out.println(line);
                    out.flush();
                });
                DevDataDir.writeOwnerOnly(dataDir.devEnv(), DevEnvironment.shellFile(shellVars));
                String signIn = new AdminTokens(secrets.adminJwtSecret(), Clock.systemUTC())
                        .issue(AdminTokens.DEV_ADMIN_EMAIL, AdminTokens.SIGN_IN_LIFETIME);
                new DevBanner(ports, services, dataDir, schemaVersion, shellVars, signIn)
                        .print(out, Duration.ofNanos(System.nanoTime() - started));
                out.flush();
                Thread demoThread = options.demo() ? startDemo(dataDir.startDemoRun()) : null;
                stopRequested.await();
                if (demoThread != null) {
                    demoThread.interrupt();
                }
                out.println("meter dev: stopping ...");
                out.flush();
            } finally {
                long stopping = System.nanoTime();
                stop(stack);
                EmbeddedKafkaBroker.haltOnFatalFault();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException alreadyShuttingDown) {
                    // The hook is running or ran: it found the stack stopped.
                }
                log.info("dev stack stopped in {} ms", Duration.ofNanos(System.nanoTime() - stopping).toMillis());
            }
            if (brokerFault.get() != null) {
                out.println("meter dev: stopped after the broker's fatal fault; data kept in " + dataDir.root()
                        + " (a restart recovers from it)");
                out.flush();
                return 1;
            }
            out.println("meter dev: stopped; data kept in " + dataDir.root() + " (a restart continues from it, --fresh wipes it)");
            out.flush();
            return 0;
        }
    }

    /**
     * Kafka Streams' recovery after an unclean stop is one INFO line ({@link ExpectedRecoveries}), on the
     * terminal and in the logs, unless DEBUG or TRACE is asked for with {@code METER_LOG_LEVEL}.
     */
    private void oneLineRecoveriesUnlessAsked() {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return;
        }
        String asked = processEnv.get("METER_LOG_LEVEL");
        boolean detailAsked = asked != null && !Level.toLevel(asked, Level.INFO)
                .isGreaterOrEqual(Level.INFO);
        boolean installed = context.getTurboFilterList().stream().anyMatch(f -> f instanceof ExpectedRecoveries);
        if (!detailAsked && !installed) {
            context.getLogger(ExpectedRecoveries.loggerName()).setLevel(Level.INFO);
            ExpectedRecoveries recoveries = new ExpectedRecoveries();
            recoveries.setContext(context);
            recoveries.start();
            context.addTurboFilter(recoveries);
        }
    }

    /** {@code runsBefore}: demos run on this data directory before; a rerun brings its own users and event ids. */
    private Thread startDemo(int runsBefore) {
        Map<String, String> env = shellVars;
        DemoTraffic.Settings settings = DemoTraffic.Settings.forRun(runsBefore);
        if (runsBefore > 0) {
            out.println("meter dev: demo run " + (runsBefore + 1) + " on this data directory: another " + settings.users()
                    + " users and new event ids (the earlier runs' usage stays)");
        }
        Thread thread = new Thread(() -> {
            DemoDisplay display = new DemoDisplay(out, System.console() != null);
            try {
                DemoTraffic demo = new DemoTraffic(settings,
                        DemoTraffic.Endpoints.fromEnvironment(env), Clock.systemUTC());
                display.summary(demo.run(display));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Exception e) {
                out.println("meter dev: the demo stopped: " + DevStack.oneLine(e));
                out.flush();
            }
        }, "meter-dev-demo");
        thread.setDaemon(true);
        thread.start();
        return thread;
    }

    private void setVariables(DevPorts ports, DevDataDir dataDir) {
        shellVars = DevEnvironment.shellVariables(ports, secrets, true);
        serviceVars = connectionBudget.applyTo(DevEnvironment.serviceVariables(processEnv, shellVars, ports, dataDir));
    }

    /** A PostgreSQL that an earlier meter dev left running from this data directory (it was killed) is stopped. */
    private void stopLeftoverPostgres(DevDataDir dataDir) {
        try {
            EmbeddedPostgresServer.stopLeftover(dataDir.postgres(), LEFTOVER_STOP_TIMEOUT).ifPresent(pid -> {
                out.println("meter dev: stopped PostgreSQL (pid " + pid + ") left running from " + dataDir.postgres()
                        + " by an earlier meter dev that did not stop cleanly");
                out.flush();
            });
        } catch (IllegalStateException | java.io.UncheckedIOException e) {
            throw new DevStackException(e.getMessage() + ": stop it by hand, then start again", e);
        }
    }

    /**
     * Kafka would halt the JVM here and leave PostgreSQL running; instead the stack stops in order.
     * Should that hang on the failed broker, PostgreSQL is stopped alone and the JVM halts.
     */
    private void brokerFailed(String fault) {
        if (!brokerFault.compareAndSet(null, fault)) {
            return;
        }
        out.println("meter dev: the embedded Kafka broker stopped on a fatal fault (" + fault
                + "); stopping everything, PostgreSQL included");
        out.flush();
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(FAULT_STOP_TIMEOUT.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            if (!stackClosed) {
                EmbeddedPostgresServer running = postgres;
                if (running != null) {
                    try {
                        running.close();
                    } catch (RuntimeException e) {
                        log.warn("PostgreSQL did not stop cleanly: {}", DevStack.oneLine(e));
                    }
                }
                out.println("meter dev: the stack did not stop within " + FAULT_STOP_TIMEOUT.toSeconds()
                        + " s after the broker's fault; PostgreSQL stopped, exiting");
                out.flush();
                Runtime.getRuntime().halt(1);
            }
        }, "meter-dev-stop-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        requestStop();
    }

    /** Asks the running stack to stop; {@link #run()} then returns 0. */
    public void requestStop() {
        stopRequested.countDown();
    }

    private void stop(DevStack stack) {
        if (stopped.compareAndSet(false, true)) {
            stack.close();
            stackClosed = true;
        }
    }

    private AutoCloseable syncSchema(Map<String, String> vars) {
        List<DatabaseEnvironment> environments = new ArrayList<>();
        for (String name : DatabaseEnvironment.DEFAULT_NAMES) {
            DatabaseEnvironment env = DatabaseEnvironment.fromVariables(vars, name);
            String database = env.url().substring(env.url().lastIndexOf('/') + 1);
            postgres.createRole(DevEnvironment.DATABASE_ROLE, env.password());
            postgres.createDatabase(database, DevEnvironment.DATABASE_ROLE);
            environments.add(env);
        }
        SchemaMigrator migrator = new SchemaMigrator(MigrationSource.shipped());
        for (SyncOutcome outcome : migrator.sync(environments)) {
            if (outcome.failed()) {
                throw new DevStackException("schema sync failed on " + outcome.environment().name() + ": " + outcome.reason()
                        + " (see `meter schema status` after `source .meter/dev.env`, or start with --fresh)");
            }
        }
        EnvironmentStatus dev = migrator.status(environments.get(0));
        List<MigrationStatus> applied = dev.applied();
        schemaVersion = applied.isEmpty() ? "empty" : "V" + applied.get(applied.size() - 1).version();
        return () -> { };
    }

    private AutoCloseable createTopics() {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        try (Admin admin = Admin.create(props)) {
            // One broker: replication 1 whatever the shell says for production clusters.
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
        return () -> { };
    }
}
