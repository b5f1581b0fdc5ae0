package io.usagemeter.notifier;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.javalin.Javalin;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
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
import java.nio.charset.StandardCharsets;
import java.time.Clock;
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
 * The notifier: reads limit events into the delivery log (the outbox), delivers them as signed
 * webhooks from one worker per endpoint, and serves the webhook admin API, health and metrics.
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
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final DeliveryDispatcher dispatcher;
    private final LimitEventOutbox outbox;
    private final KafkaProducer<byte[], DeadLetter> deadLetters;
    private final Javalin app;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private Thread outboxThread;

    /** @param ownedDataSource closed with the service (null when the caller owns the data source) */
    public NotifierService(NotifierConfig config, DataSource dataSource, AutoCloseable ownedDataSource, Clock clock) {
        this.config = config;
        this.dataSource = dataSource;
        this.ownedDataSource = ownedDataSource;
        this.clock = clock;
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
        this.app = new WebhookRoutes(admin, adminAuthenticator(config, clock), registry, outbox::assigned).create();
    }

    /** The service for {@code meter notifier}: its own connection pool from the configuration. */
    public static NotifierService create(NotifierConfig config) {
        HikariConfig pool = new HikariConfig();
        pool.setJdbcUrl(config.dbUrl());
        pool.setUsername(config.dbUser());
        pool.setPassword(config.dbPassword());
        pool.setMaximumPoolSize(8);
        pool.setPoolName("notifier");
        HikariDataSource dataSource = new HikariDataSource(pool);
        return new NotifierService(config, dataSource, dataSource, Clock.systemUTC());
    }

    private static AdminAuthenticator adminAuthenticator(NotifierConfig config, Clock clock) {
        if (config.adminJwtSecret() != null) {
            return AdminAuthenticator.hs256(config.adminJwtSecret().getBytes(StandardCharsets.UTF_8), config.adminEmails(), clock);
        }
        if (config.adminJwtPublicKey() != null) {
            return AdminAuthenticator.rs256(AdminAuthenticator.parsePublicKey(config.adminJwtPublicKey()), config.adminEmails(), clock);
        }
        return AdminAuthenticator.disabled();
    }

    public NotifierService start() {
        app.start(config.port());
        dispatcher.start();
        outboxThread = new Thread(outbox, "webhook-outbox");
        outboxThread.start();
        LOG.info("notifier listening on port {}, Kafka {}, database {}, retries {}{}", app.port(), config.kafkaBootstrap(),
                CredentialMask.maskUrl(config.dbUrl()), config.retrySchedule(),
                config.allowPrivate() ? ", private destinations ALLOWED (development)" : "");
        return this;
    }

    public int port() {
        return app.port();
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
            outbox.stop();
            dispatcher.close();
            app.stop();
            deadLetters.close();
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
