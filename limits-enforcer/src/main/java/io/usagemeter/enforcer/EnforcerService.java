package io.usagemeter.enforcer;

import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.enforcer.admin.ReplayRunner;
import io.usagemeter.enforcer.db.EntitlementEffectsWriter;
import io.usagemeter.enforcer.db.PlanCatalog;
import io.usagemeter.enforcer.internal.LimitQueries;
import io.usagemeter.enforcer.internal.LocalLimitStates;
import io.usagemeter.enforcer.internal.PartitionOwners;
import io.usagemeter.enforcer.internal.ReplayWatch;
import io.usagemeter.enforcer.internal.UsersByState;
import io.usagemeter.kit.DatabasePool;
import io.usagemeter.kit.Health;
import io.usagemeter.kit.JvmMetrics;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.kit.auth.AdminAuthenticator;
import io.usagemeter.kit.keys.ApiKeyAuthenticator;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.reconcile.ReconcileSources;
import io.usagemeter.schema.streams.LocalStateRecovery;
import io.usagemeter.schema.streams.ThreadReplacementPolicy;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.state.HostInfo;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One enforcer instance's lifecycle: the Streams topology, the kit server with the limit routes
 * ({@link LimitRoutes}) and the admin routes ({@link AdminRoutes}), and the PostgreSQL writer of
 * entitlement effects. Ready when its stores are restored and queryable and the writer writes.
 * Built from its dependencies so tests run several instances on random ports against one embedded
 * broker and database.
 */
public final class EnforcerService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EnforcerService.class);
    /** A limit answer fits in 4 KiB: Jetty's default 32 KiB output buffer per request would be mostly unused. */
    private static final int RESPONSE_BUFFER_BYTES = 4096;
    private static final int DATABASE_CONNECTIONS = 4;
    private static final Duration DATABASE_SOCKET_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration PROBE_INTERVAL = Duration.ofMillis(200);

    private final EnforcerConfig config;
    private final DSLContext dsl;
    private final Clock clock;
    private final Properties streamsOverrides;
    private final PrometheusMeterRegistry registry;
    private final Producer<String, AdminCommand> commands;
    private final ReplayRunner replays;
    private final ServiceServer server;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private volatile KafkaStreams streams;
    private volatile HostInfo self;
    private volatile LimitQueries queries;
    private volatile LocalLimitStates heldLimits;
    private volatile EntitlementEffectsWriter writer;
    private volatile ReplayWatch replayWatch;

    /**
     * @param streamsOverrides Kafka Streams properties that win over the configuration's (tests shorten timeouts)
     */
    public EnforcerService(EnforcerConfig config, DSLContext dsl, Clock clock, Properties streamsOverrides) {
        this(config, dsl, clock, streamsOverrides, null);
    }

    /**
     * @param replays runs {@code POST /v1/admin/replay} and is closed with the service; null answers the replay
     *     routes 503 (this process cannot replay)
     */
    public EnforcerService(EnforcerConfig config, DSLContext dsl, Clock clock, Properties streamsOverrides,
                           ReplayRunner replays) {
        this(config, dsl, clock, streamsOverrides, replays, ReconcileSources.fromEnv(System.getenv()));
    }

    /**
     * @param reconcileSources whose progress explains a difference in {@code GET /v1/admin/reconcile} (the
     *     enforcer's own group is always this service's application id)
     */
    public EnforcerService(EnforcerConfig config, DSLContext dsl, Clock clock, Properties streamsOverrides,
                           ReplayRunner replays, ReconcileSources reconcileSources) {
        this.replays = replays;
        this.config = config;
        this.dsl = dsl;
        this.clock = clock;
        this.streamsOverrides = streamsOverrides;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        owned.add(JvmMetrics.bindTo(registry));
        UsersByState.register(registry, () -> streams, clock);
        this.commands = new KafkaProducer<>(config.producerProperties("enforcer-admin-commands"),
                new StringSerializer(), Topics.ADMIN_COMMANDS.valueSerde().serializer());
        LimitRoutes limits = new LimitRoutes(() -> queries, () -> replayWatch, registry, clock);
        AdminRoutes admin = new AdminRoutes(() -> queries, dsl, commands, replays, clock, config.resetHorizon(),
                reconcileSources.withEnforcerGroup(config.applicationId()), config.adminProperties());
        this.server = ServiceServer.builder("enforcer", registry)
                .limits(config.httpLimits())
                .responseBufferSize(RESPONSE_BUFFER_BYTES)
                .apiKeys(new ApiKeyAuthenticator(new ApiKeyStore(dsl, clock), config.apiKeyCacheTtl(), clock))
                .admins(AdminAuthenticator.create(config.adminJwt(), clock))
                .routes(limits.routes())
                .routes(admin.routes())
                .staticFiles(AdminPanel.files())
                .ready(Health.Check.of("streams", () -> EnforcerReadiness.streams(streams, self)).cachedFor(PROBE_INTERVAL))
                .ready(Health.Check.of("db_writer", () -> {
                    EntitlementEffectsWriter w = writer;
                    if (w == null) {
                        return Health.Result.down("not started");
                    }
                    boolean healthy = w.healthy();
                    return Health.Result.of(healthy, healthy ? "writing"
                            : "cannot write to PostgreSQL: " + w.lastError().orElse("stopped"));
                }))
                .build();
    }

    /** The service with its own database pool from the configuration, without replays (routes answer 503). */
    public static EnforcerService create(EnforcerConfig config) {
        return create(config, dsl -> null);
    }

    /**
     * The service for {@code meter enforcer}: its own database pool from the configuration.
     *
     * @param replays builds the replay runner on that database connection (may return null: no replays)
     */
    public static EnforcerService create(EnforcerConfig config, Function<DSLContext, ReplayRunner> replays) {
        HikariDataSource pool = DatabasePool.open("enforcer", config.dbUrl(), config.dbUser(), config.dbPassword(),
                DATABASE_CONNECTIONS, DATABASE_SOCKET_TIMEOUT);
        DSLContext dsl = DSL.using(pool, SQLDialect.POSTGRES);
        EnforcerService service = new EnforcerService(config, dsl, Clock.systemUTC(), new Properties(), replays.apply(dsl));
        service.owned.add(pool);
        return service;
    }

    /** Creates missing topics, publishes the plans, then starts HTTP, the topology and the writer. */
    public EnforcerService start() {
        TopicSettings topics;
        try (Admin admin = Admin.create(config.adminProperties())) {
            // Replication follows the cluster unless set: 3 replicas and 2 in sync from 3 brokers on.
            topics = TopicBootstrapper.resolve(admin, config.topicSettings());
            TopicBootstrapper.bootstrap(admin, topics);
            new TopicBootstrapper(admin, topics.replicationFactor()).bootstrap(List.of(EnforcerTopics.plans(topics)));
        }
        try (KafkaProducer<String, Plan> plans = new KafkaProducer<>(config.producerProperties("enforcer-plans"),
                new StringSerializer(), EnforcerTopics.PLAN_SERDE.serializer())) {
            PlanCatalog.publish(dsl, plans);
        }
        try (Admin admin = Admin.create(config.adminProperties())) {
            new TopicBootstrapper(admin, topics.replicationFactor()).bootstrap(List.of(Topics.REPLAYS));
        }
        this.replayWatch = new ReplayWatch(config.kafkaBootstrap(), clock).start();
        server.start(config.port());
        URI advertised = config.advertisedUrl(server.port());
        Properties props = config.streamsProperties(advertised);
        props.putAll(topics.streamsProperties());
        props.putAll(streamsOverrides);
        PartitionOwners owners = new PartitionOwners(EnforcerTopology.LIMITS_STORE,
                EnforcerTopology.userStoreSourceTopics(config.applicationId()));
        LocalLimitStates held = new LocalLimitStates();
        KafkaStreams kafkaStreams = LocalStateRecovery.start(() -> {
            KafkaStreams instance = new KafkaStreams(EnforcerTopology.build(config, held), props);
            instance.setStateListener(owners);
            // A dead stream thread is replaced (its tasks restore from their changelogs) within a budget.
            instance.setUncaughtExceptionHandler(new ThreadReplacementPolicy("enforcer", config.streams().threadReplacements(),
                    config.streams().threadReplacementPeriod(), clock));
            return instance;
        }, "enforcer " + config.applicationId());
        KafkaStreamsMetrics streamsMetrics = new KafkaStreamsMetrics(kafkaStreams);
        streamsMetrics.bindTo(registry);
        owned.add(0, streamsMetrics);
        this.self = new HostInfo(advertised.getHost(), advertised.getPort());
        this.heldLimits = held;
        this.queries = new LimitQueries(kafkaStreams, self, config.grace(), clock, owners, held);
        this.streams = kafkaStreams;
        this.writer = new EntitlementEffectsWriter(config.applicationId() + "-db", config.kafkaBootstrap(), dsl,
                config.resetHorizon(), Topics.DEAD_LETTER.name(), clock).start();
        LOG.info("enforcer listening on {} (port {}), Kafka {}, database {}", advertised, server.port(),
                config.kafkaBootstrap(), config.maskedDbUrl());
        return this;
    }

    public int port() {
        return server.port();
    }

    /** The routes its HTTP server answers ({@link ServiceServer#routes()}). */
    public List<String> routes() {
        return server.routes();
    }

    public KafkaStreams streams() {
        return streams;
    }

    /** The limit queries the routes answer from, null before {@link #start()}. */
    public LimitQueries queries() {
        return queries;
    }

    /** The limit states of the partitions running here, as the read path holds them; null before {@link #start()}. */
    public LocalLimitStates heldLimits() {
        return heldLimits;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        server.close();
        EntitlementEffectsWriter w = writer;
        if (w != null) {
            w.close();
        }
        KafkaStreams s = streams;
        if (s != null) {
            // Leave the group: a restarted instance (or a standby) gets the tasks at once instead of after the
            // session timeout, during which this instance's users would be answered only by standbys or 503.
            s.close(CloseOptions.timeout(Duration.ofSeconds(30))
                    .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
        }
        commands.close(Duration.ofSeconds(5));
        if (replays != null) {
            replays.close();
        }
        ReplayWatch watch = replayWatch;
        if (watch != null) {
            watch.close();
        }
        for (AutoCloseable resource : owned) {
            try {
                resource.close();
            } catch (Exception e) {
                LOG.warn("could not close {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
        registry.close();
    }
}
