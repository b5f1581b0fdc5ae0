package io.usagemeter.ingest;

import com.zaxxer.hikari.HikariDataSource;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.ingest.internal.IngestMetrics;
import io.usagemeter.ingest.internal.KafkaReadiness;
import io.usagemeter.ingest.internal.RecordPublisher;
import io.usagemeter.kit.DatabasePool;
import io.usagemeter.kit.Health;
import io.usagemeter.kit.JvmMetrics;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.kit.keys.ApiKeyAuthenticator;
import io.usagemeter.kit.keys.ApiKeyStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP ingest service's lifecycle: its producer, admin client, key store and kit server
 * ({@link IngestRoutes} holds the routes). Ready when Kafka and the key store answer.
 *
 * <p>Built from its dependencies (producer, admin client, key store, meter registry, clock), so tests
 * start it on a random port against an embedded broker and PostgreSQL; {@link #create(IngestConfig)}
 * builds those from the configuration for {@code meter ingest}.
 */
public final class IngestService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IngestService.class);
    /** Key lookups are single-row reads by primary key: a few connections cover any rate the cache lets through. */
    private static final int KEY_STORE_CONNECTIONS = 4;
    private static final Duration KEY_STORE_SOCKET_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration PROBE_INTERVAL = Duration.ofSeconds(1);

    private final IngestConfig config;
    private final PrometheusMeterRegistry registry;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final ServiceServer server;

    /**
     * @param producer sends both usage events and referrals; configured as {@link IngestConfig#producerProperties()}
     * @param admin used only to answer readiness
     */
    public IngestService(IngestConfig config, Producer<byte[], byte[]> producer, Admin admin, ApiKeyStore keyStore,
                         PrometheusMeterRegistry registry, Clock clock) {
        this.config = config;
        this.registry = registry;
        KafkaClientMetrics producerMetrics = new KafkaClientMetrics(producer);
        producerMetrics.bindTo(registry);
        owned.add(producerMetrics);
        KafkaReadiness kafka = new KafkaReadiness(admin);
        IngestRoutes routes = new IngestRoutes(config, new RecordPublisher(producer, config.ackTimeout()),
                new IngestMetrics(registry), clock);
        this.server = ServiceServer.builder("ingest", registry)
                .limits(config.httpLimits())
                .apiKeys(new ApiKeyAuthenticator(keyStore, config.apiKeyCacheTtl(), clock))
                .routes(routes.routes())
                .ready(Health.Check.of("kafka", kafka::check))
                .ready(Health.Check.of("key_store", () -> keyStore.reachable()
                        ? Health.Result.up("PostgreSQL answered") : Health.Result.down("PostgreSQL does not answer"))
                        .cachedFor(PROBE_INTERVAL))
                .build();
    }

    /** The service with its own producer, admin client, key store pool and registry, all closed by {@link #close()}. */
    public static IngestService create(IngestConfig config) {
        return create(config, Clock.systemUTC());
    }

    /** {@link #create(IngestConfig)} reading the time from {@code clock} (tests pin the month with it). */
    public static IngestService create(IngestConfig config, Clock clock) {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        AutoCloseable jvmMetrics = JvmMetrics.bindTo(registry);
        HikariDataSource pool = DatabasePool.open("ingest-keys", config.dbUrl(), config.dbUser(), config.dbPassword(),
                KEY_STORE_CONNECTIONS, KEY_STORE_SOCKET_TIMEOUT);
        Producer<byte[], byte[]> producer = new KafkaProducer<>(
                config.producerProperties(), new ByteArraySerializer(), new ByteArraySerializer());
        Admin admin = Admin.create(config.adminProperties());
        IngestService service = new IngestService(config, producer, admin, new ApiKeyStore(pool, clock), registry, clock);
        // Closed in this order after the HTTP server stopped: no request can still be using them.
        service.owned.add(producer);
        service.owned.add(admin);
        service.owned.add(pool);
        service.owned.add(jvmMetrics);
        service.owned.add(registry::close);
        return service;
    }

    public IngestService start() {
        server.start(config.port());
        LOG.info("ingest listening on port {} (Kafka {}, ack timeout {} ms)",
                server.port(), config.kafkaBootstrap(), config.ackTimeout().toMillis());
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

    @Override
    public void close() {
        server.close();
        for (AutoCloseable resource : owned) {
            try {
                resource.close();
            } catch (Exception e) {
                LOG.warn("could not close {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
    }
}
