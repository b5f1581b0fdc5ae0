package io.usagemeter.notifier;

import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.kit.DatabasePool;
import io.usagemeter.kit.Health;
import io.usagemeter.kit.JvmMetrics;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.kit.auth.AdminAuthenticator;
import io.usagemeter.notifier.db.DeliveryLog;
import io.usagemeter.notifier.db.EndpointStore;
import io.usagemeter.notifier.internal.DeliveryDispatcher;
import io.usagemeter.notifier.internal.DestinationPolicy;
import io.usagemeter.notifier.internal.LimitEventOutbox;
import io.usagemeter.notifier.internal.NotifierMetrics;
import io.usagemeter.notifier.internal.WebhookSender;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.sync.CredentialMask;
import io.usagemeter.schema.topics.Topics;
import io.usagemeter.schema.vault.WebhookSecretCipher;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The notifier's lifecycle: reads limit events into the delivery log (the outbox), delivers them as
 * signed webhooks from one worker per endpoint, and serves the webhook admin API ({@link WebhookRoutes})
 * on the kit's server, with health and metrics. Ready when the outbox holds its partitions and
 * PostgreSQL answers.
 */
public final class NotifierService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(NotifierService.class);

    static {
        // jOOQ's banner and tips would fill the service log.
        System.setProperty("org.jooq.no-logo", "true");
        System.setProperty("org.jooq.no-tips", "true");
    }

    private final NotifierConfig config;
    private final DataSource dataSource;
    private final AutoCloseable ownedDataSource;
    private final Clock clock;
    private static final int DATABASE_CONNECTIONS = 8;
    private static final Duration DATABASE_SOCKET_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration PROBE_INTERVAL = Duration.ofSeconds(1);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AutoCloseable jvmMetrics;
    private final DeliveryDispatcher dispatcher;
    private final LimitEventOutbox outbox;
    private final KafkaProducer<byte[], DeadLetter> deadLetters;
    private final ServiceServer server;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private Thread outboxThread;

    /** @param ownedDataSource closed with the service (null when the caller owns the data source) */
    public NotifierService(NotifierConfig config, DataSource dataSource, AutoCloseable ownedDataSource, Clock clock) {
        this.config = config;
        this.dataSource = dataSource;
        this.ownedDataSource = ownedDataSource;
        this.clock = clock;
        this.jvmMetrics = JvmMetrics.bindTo(registry);
        DSLContext dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        NotifierMetrics metrics = new NotifierMetrics(registry);
        EndpointStore endpoints = new EndpointStore(dsl, new WebhookSecretCipher(config.keyset()), clock);
        DeliveryLog log = new DeliveryLog(dsl);
        DestinationPolicy policy = new DestinationPolicy(config.allowPrivate());
        this.dispatcher = new DeliveryDispatcher(log, endpoints, policy,
                new WebhookSender(NotifierConfig.CONNECT_TIMEOUT, NotifierConfig.ANSWER_TIMEOUT),
                config.retrySchedule(), metrics, clock);
        this.deadLetters = new KafkaProducer<>(config.producerProperties(config.groupId() + "-dead-letters"),
                new ByteArraySerializer(), Topics.DEAD_LETTER.valueSerde().serializer());
        this.outbox = new LimitEventOutbox(
                new KafkaConsumer<>(config.consumerProperties(), new StringDeserializer(), new ByteArrayDeserializer()),
                deadLetters, log, dispatcher::wakeUp, metrics, clock);
        WebhookAdmin admin = new WebhookAdmin(endpoints, log, policy, dispatcher::wakeUp, clock);
        this.server = ServiceServer.builder("notifier", registry)
                .limits(config.httpLimits())
                .admins(AdminAuthenticator.create(config.adminJwt(), clock))
                .routes(new WebhookRoutes(admin).routes())
                .ready(Health.Check.of("limit_events", () -> outbox.assigned()
                        ? Health.Result.up("reading " + Topics.LIMIT_EVENTS.name())
                        : Health.Result.down("no partition of " + Topics.LIMIT_EVENTS.name() + " assigned yet")))
                .ready(Health.Check.of("database", () -> reachable(dsl)
                        ? Health.Result.up("PostgreSQL answered") : Health.Result.down("PostgreSQL does not answer"))
                        .cachedFor(PROBE_INTERVAL))
                .build();
    }

    private static boolean reachable(DSLContext dsl) {
        try {
            dsl.selectOne().fetch();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The service for {@code meter notifier}: its own connection pool from the configuration. */
    public static NotifierService create(NotifierConfig config) {
        // The admin API, the outbox and one worker per endpoint share it; a worker holds a connection only
        // while it reads or writes the log, never across an HTTP attempt.
        HikariDataSource dataSource = DatabasePool.open("notifier", config.dbUrl(), config.dbUser(), config.dbPassword(),
                DATABASE_CONNECTIONS, DATABASE_SOCKET_TIMEOUT);
        return new NotifierService(config, dataSource, dataSource, Clock.systemUTC());
    }

    public NotifierService start() {
        server.start(config.port());
        dispatcher.start();
        outboxThread = new Thread(outbox, "webhook-outbox");
        outboxThread.start();
        LOG.info("notifier listening on port {}, Kafka {}, database {}, retries {}{}", server.port(), config.kafkaBootstrap(),
                CredentialMask.maskUrl(config.dbUrl()), config.retrySchedule(),
                config.allowPrivate() ? ", private destinations ALLOWED (development)" : "");
        return this;
    }

    public int port() {
        return server.port();
    }

    /** The routes its HTTP server answers ({@link ServiceServer#routes()}). */
    public List<String> routes() {
        return server.routes();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public DataSource dataSource() {
        return dataSource;
    }

    /** Blocks until {@link #close()}. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    @Override
    public void close() {
        try {
            server.close();
            outbox.stop();
            dispatcher.close();
            deadLetters.close();
            jvmMetrics.close();
            if (ownedDataSource != null) {
                ownedDataSource.close();
            }
        } catch (Exception e) {
            LOG.warn("notifier did not stop cleanly: {}", e.toString());
        } finally {
            stopped.countDown();
        }
    }
}
