package io.usagemeter.ingest;

import com.fasterxml.jackson.databind.JsonNode;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaClientMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.ingest.internal.ApiError;
import io.usagemeter.ingest.internal.EventRequests;
import io.usagemeter.ingest.internal.IngestMetrics;
import io.usagemeter.ingest.internal.IngestRejection;
import io.usagemeter.ingest.internal.KafkaReadiness;
import io.usagemeter.ingest.internal.RecordPublisher;
import io.usagemeter.ingest.internal.ReferralValidation;
import io.usagemeter.ingest.internal.RequestFormat;
import io.usagemeter.ingest.internal.UsageEventRequests;
import io.usagemeter.ingest.keys.ApiKey;
import io.usagemeter.ingest.keys.ApiKeyAuthenticator;
import io.usagemeter.ingest.keys.ApiKeyScopes;
import io.usagemeter.ingest.keys.ApiKeyStore;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.jooq.exception.DataAccessException;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP ingest service: authenticates apps by API key, validates usage events and referrals,
 * and answers 202 only once Kafka acknowledged every record of the request.
 *
 * <p>Built from its dependencies (producer, admin client, key authenticator, meter registry,
 * clock), so tests start it on a random port against an embedded broker and PostgreSQL;
 * {@link #create(IngestConfig)} builds those from the configuration for {@code meter ingest}.
 */
public final class IngestService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(IngestService.class);
    private static final String ROUTE_EVENTS = "events";
    private static final String ROUTE_REFERRALS = "referrals";
    private static final String JSON = "application/json";
    /** Seconds a client should wait after a 503 before retrying; clients add their own backoff. */
    private static final String RETRY_AFTER_SECONDS = "1";

    private final IngestConfig config;
    private final ApiKeyAuthenticator keys;
    private final PrometheusMeterRegistry registry;
    private final Clock clock;
    private final RecordPublisher publisher;
    private final KafkaReadiness readiness;
    private final IngestMetrics metrics;
    private final List<AutoCloseable> owned = new ArrayList<>();
    private final Javalin app;

    /**
     * @param producer sends both usage events and referrals; configured as {@link IngestConfig#producerProperties()}
     * @param admin used only to answer readiness
     */
    public IngestService(IngestConfig config, Producer<byte[], byte[]> producer, Admin admin,
                         ApiKeyAuthenticator keys, PrometheusMeterRegistry registry, Clock clock) {
        this.config = config;
        this.keys = keys;
        this.registry = registry;
        this.clock = clock;
        this.publisher = new RecordPublisher(producer, config.ackTimeout());
        this.readiness = new KafkaReadiness(admin);
        this.metrics = new IngestMetrics(registry);
        KafkaClientMetrics producerMetrics = new KafkaClientMetrics(producer);
        producerMetrics.bindTo(registry);
        owned.add(producerMetrics);
        this.app = Javalin.create(javalin -> {
            javalin.startup.showJavalinBanner = false;
            javalin.startup.showOldJavalinVersionWarning = false;
            javalin.http.maxRequestSize = config.maxBodyBytes();
            javalin.routes.post("/v1/events", this::postEvents);
            javalin.routes.post("/v1/referrals", this::postReferrals);
            javalin.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
                    .result(registry.scrape()));
            javalin.routes.get("/health/live", ctx -> json(ctx, 200, Map.of("status", "UP")));
            javalin.routes.get("/health/ready", ctx -> {
                boolean kafkaUp = readiness.ready();
                json(ctx, kafkaUp ? 200 : 503, Map.of("status", kafkaUp ? "UP" : "DOWN",
                        "checks", Map.of("kafka", kafkaUp ? "UP" : "DOWN")));
            });
            javalin.routes.error(404, ctx -> json(ctx, 404,
                    new ApiError("no route " + ctx.method() + " " + ctx.path(), List.of())));
            javalin.routes.error(405, ctx -> json(ctx, 405,
                    new ApiError("method " + ctx.method() + " not allowed on " + ctx.path(), List.of())));
            javalin.routes.exception(Exception.class, (e, ctx) -> {
                LOG.error("unexpected failure on {} {}", ctx.method(), ctx.path(), e);
                json(ctx, 500, new ApiError("internal error", List.of()));
            });
        });
    }

    /** The service with its own producer, admin client, key store and registry, all closed by {@link #close()}. */
    public static IngestService create(IngestConfig config) {
        Clock clock = Clock.systemUTC();
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        new JvmMemoryMetrics().bindTo(registry);
        JvmGcMetrics gc = new JvmGcMetrics();
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);

        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setUrl(config.dbUrl());
        dataSource.setUser(config.dbUser());
        dataSource.setPassword(config.dbPassword());
        ApiKeyAuthenticator keys = new ApiKeyAuthenticator(new ApiKeyStore(dataSource, clock), config.apiKeyCacheTtl(), clock);

        Producer<byte[], byte[]> producer = new KafkaProducer<>(
                config.producerProperties(), new ByteArraySerializer(), new ByteArraySerializer());
        Admin admin = Admin.create(config.adminProperties());
        IngestService service = new IngestService(config, producer, admin, keys, registry, clock);
        // Closed in this order after the HTTP server stopped: no request can still be using them.
        service.owned.add(producer);
        service.owned.add(admin);
        service.owned.add(gc);
        service.owned.add(registry::close);
        return service;
    }

    public IngestService start() {
        app.start(config.port());
        LOG.info("ingest listening on port {} (Kafka {}, ack timeout {} ms)",
                app.port(), config.kafkaBootstrap(), config.ackTimeout().toMillis());
        return this;
    }

    public int port() {
        return app.port();
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        app.stop();
        for (AutoCloseable resource : owned) {
            try {
                resource.close();
            } catch (Exception e) {
                LOG.warn("could not close {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
    }

    private void postEvents(Context ctx) {
        handle(ctx, ROUTE_EVENTS, ApiKeyScopes.EVENTS_WRITE, EnumSet.allOf(RequestFormat.class), (format, body) -> {
            List<UsageEvent> events = UsageEventRequests.validate(body, format, ctx.headerMap(), config.maxBatchEvents(),
                    clock.instant(), config.maxLateness());
            publisher.publishAll(Topics.USAGE_EVENTS, events, e -> e.userId().toString(), UsageEvent::occurredAt);
            return events.size();
        });
    }

    private void postReferrals(Context ctx) {
        handle(ctx, ROUTE_REFERRALS, ApiKeyScopes.REFERRALS_WRITE, EnumSet.of(RequestFormat.JSON), (format, body) -> {
            List<JsonNode> elements = EventRequests.elements(body, format, config.maxBatchEvents());
            var now = clock.instant();
            List<ReferralEvent> referrals = EventRequests.validateAll(elements,
                    (element, violations) -> ReferralValidation.validate(element, now, config.maxLateness(), violations));
            publisher.publishAll(Topics.REFERRALS, referrals, r -> r.referredId().toString(), ReferralEvent::occurredAt);
            return referrals.size();
        });
    }

    @FunctionalInterface
    private interface Ingestion {
        /** Validates and publishes the body; returns how many events Kafka acknowledged. */
        int ingest(RequestFormat format, byte[] body) throws Exception;
    }

    /** The common frame of both write routes: auth, content type, body limit, then the route's work. */
    private void handle(Context ctx, String route, String scope, Set<RequestFormat> formats, Ingestion ingestion) {
        Timer.Sample sample = metrics.startRequest();
        int status = 500;
        try {
            authorize(ctx.header("Authorization"), scope);
            RequestFormat format = RequestFormat.of(ctx.contentType())
                    .filter(formats::contains)
                    .orElseThrow(() -> new IngestRejection(415, "unsupported_media_type",
                            "unsupported Content-Type '" + ctx.contentType() + "'; use one of "
                                    + formats.stream().map(RequestFormat::mediaType).toList()));
            byte[] body = EventRequests.readBody(ctx.req().getInputStream(), ctx.req().getContentLengthLong(),
                    config.maxBodyBytes());
            int accepted = ingestion.ingest(format, body);
            metrics.accepted(route, accepted);
            status = 202;
            json(ctx, status, Map.of("accepted", accepted));
        } catch (IngestRejection rejection) {
            status = rejection.status();
            metrics.rejected(route, rejection);
            LOG.debug("refused POST /v1/{} with {} ({}): {}", route, status, rejection.reason(), rejection.getMessage());
            if (status == 401) {
                ctx.header("WWW-Authenticate", "Bearer");
            } else if (status == 503) {
                ctx.header("Retry-After", RETRY_AFTER_SECONDS);
            }
            json(ctx, status, rejection.body());
        } catch (Exception e) {
            LOG.error("unexpected failure on POST /v1/{}", route, e);
            json(ctx, status, new ApiError("internal error", List.of()));
        } finally {
            metrics.finishRequest(sample, route, status);
        }
    }

    /** Resolves the bearer key and checks its scope; the key itself is never logged or echoed. */
    private ApiKey authorize(String authorization, String scope) {
        if (authorization == null || authorization.isBlank()) {
            throw new IngestRejection(401, "unauthenticated", "missing API key: send Authorization: Bearer <api key>");
        }
        if (authorization.length() < 7 || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new IngestRejection(401, "unauthenticated", "the Authorization header must use the Bearer scheme");
        }
        Optional<ApiKey> key;
        try {
            key = keys.authenticate(authorization.substring(7).strip());
        } catch (DataAccessException e) {
            LOG.warn("API key store unavailable: {}", e.getMessage());
            throw new IngestRejection(503, "key_store_unavailable", "cannot check API keys right now; retry the request");
        }
        ApiKey apiKey = key.orElseThrow(() -> new IngestRejection(401, "unauthenticated", "unknown or revoked API key"));
        if (!apiKey.allows(scope)) {
            throw new IngestRejection(403, "forbidden",
                    "API key '" + apiKey.prefix() + "' lacks the scope " + scope,
                    List.of(Map.of("required_scope", scope)), 0);
        }
        return apiKey;
    }

    private static void json(Context ctx, int status, Object body) {
        ctx.status(status).contentType(JSON).result(Json.write(body));
    }
}
