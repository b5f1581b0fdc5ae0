package io.usagemeter.enforcer;

import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.auth.AdminJwtSettings;
import io.usagemeter.kit.auth.PlaceholderSecrets;
import io.usagemeter.enforcer.internal.DeadLetterDeserializationHandler;
import io.usagemeter.enforcer.internal.DeadLetterProcessingHandler;
import io.usagemeter.enforcer.internal.DeadLetterProductionHandler;
import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.config.StreamsSettings;
import io.usagemeter.schema.streams.StreamsProperties;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.topics.TopicSettings;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The enforcer's settings, parsed once from {@code METER_*} variables; Kafka properties are
 * derived here and nowhere else.
 *
 * @param kafkaBootstrap {@code METER_KAFKA_BOOTSTRAP}
 * @param streams application id (consumer group and prefix of internal topics), commit interval, state directory
 *     (kept across restarts), stream threads and their replacement budget ({@code METER_ENFORCER_APPLICATION_ID},
 *     {@code …_COMMIT_INTERVAL}, {@code …_STATE_DIR}, {@code …_STREAM_THREADS}, {@code …_THREAD_REPLACEMENTS},
 *     {@code …_THREAD_REPLACEMENT_PERIOD})
 * @param port HTTP port of limit checks and admin routes ({@code METER_ENFORCER_PORT}; 0 picks a free one)
 * @param advertisedUrl how other instances reach this one ({@code METER_ENFORCER_ADVERTISED_URL}); its
 *     host:port becomes {@code application.server}. {@code null} means {@code http://localhost:<port>}
 * @param standbyReplicas {@code num.standby.replicas} ({@code METER_ENFORCER_STANDBY_REPLICAS}, default 1:
 *     with two or more instances a standby answers, flagged stale, while the owner restores)
 * @param grace how far usage may run over the limit before checks answer not allowed, as a fraction
 *     ({@code METER_ENFORCER_GRACE_PERCENT}, default 0)
 * @param database {@code METER_DB_*}; {@code null} only in tests that run without PostgreSQL
 * @param adminJwt how admin tokens are checked ({@code METER_ADMIN_JWT_*}, {@code METER_ADMIN_EMAILS})
 * @param apiKeyCacheTtl how long an API key lookup is cached ({@code METER_ENFORCER_API_KEY_CACHE_TTL})
 * @param httpLimits connection cap, in-flight bound and body limit ({@code METER_HTTP_*})
 * @param resetHorizon which months a usage reset may name ({@code METER_AGGREGATOR_RESET_HORIZON_MONTHS}, the
 *     aggregator's setting: the route refuses what the aggregator would, and the PostgreSQL writer records neither)
 */
public record EnforcerConfig(
        String kafkaBootstrap,
        StreamsSettings streams,
        int port,
        URI advertisedUrl,
        int standbyReplicas,
        BigDecimal grace,
        DatabaseSettings database,
        AdminJwtSettings adminJwt,
        Duration apiKeyCacheTtl,
        HttpLimits httpLimits,
        TopicSettings topicSettings,
        ResetHorizon resetHorizon) {

    public static final String DEFAULT_APPLICATION_ID = "usage-meter-enforcer";
    public static final int DEFAULT_PORT = 8081;
    public static final Duration DEFAULT_API_KEY_CACHE_TTL = Duration.ofSeconds(30);

    private static final String DB_NEEDED = "the enforcer reads plans from and writes entitlements to the service database";

    public EnforcerConfig {
        Objects.requireNonNull(kafkaBootstrap, "METER_KAFKA_BOOTSTRAP");
        Objects.requireNonNull(streams, "streams");
        Objects.requireNonNull(grace, "METER_ENFORCER_GRACE_PERCENT");
        Objects.requireNonNull(topicSettings, "topicSettings");
        Objects.requireNonNull(resetHorizon, "resetHorizon");
        adminJwt = adminJwt == null ? AdminJwtSettings.disabled() : adminJwt;
        apiKeyCacheTtl = apiKeyCacheTtl == null ? DEFAULT_API_KEY_CACHE_TTL : apiKeyCacheTtl;
        httpLimits = httpLimits == null ? HttpLimits.defaults() : httpLimits;
        if (database != null) {
            PlaceholderSecrets.refuse(DatabaseSettings.PASSWORD, database.password());
        }
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("METER_ENFORCER_PORT must be 0..65535, was " + port);
        }
        if (standbyReplicas < 0) {
            throw new IllegalArgumentException("METER_ENFORCER_STANDBY_REPLICAS must not be negative, was " + standbyReplicas);
        }
        if (grace.signum() < 0) {
            throw new IllegalArgumentException("METER_ENFORCER_GRACE_PERCENT must not be negative, was " + grace);
        }
    }

    public static EnforcerConfig fromEnv(Map<String, String> env) {
        MeterEnvironment e = MeterEnvironment.of(env);
        return new EnforcerConfig(
                KafkaSettings.from(e).bootstrapServers(),
                StreamsSettings.from(e, StreamsSettings.ENFORCER, "enforcer", DEFAULT_APPLICATION_ID),
                e.port("METER_ENFORCER_PORT", DEFAULT_PORT),
                e.url("METER_ENFORCER_ADVERTISED_URL", null),
                e.intIn("METER_ENFORCER_STANDBY_REPLICAS", 1, 0, Integer.MAX_VALUE),
                e.decimalAtLeast("METER_ENFORCER_GRACE_PERCENT", BigDecimal.ZERO, BigDecimal.ZERO).movePointLeft(2),
                DatabaseSettings.forService(e, DB_NEEDED),
                AdminJwtSettings.fromEnv(e),
                e.duration("METER_ENFORCER_API_KEY_CACHE_TTL", DEFAULT_API_KEY_CACHE_TTL),
                HttpLimits.fromEnv(env),
                TopicSettings.fromEnv(env),
                ResetHorizon.fromEnv(env));
    }

    /** Defaults everywhere except where Kafka, the state and PostgreSQL are: for tests and the dev stack. */
    public static EnforcerConfig defaults(String kafkaBootstrap, Path stateDir, String dbUrl, String dbUser, String dbPassword) {
        StreamsSettings streams = new StreamsSettings(DEFAULT_APPLICATION_ID, StreamsSettings.DEFAULT_COMMIT_INTERVAL,
                stateDir, StreamsSettings.DEFAULT_STREAM_THREADS, StreamsSettings.DEFAULT_THREAD_REPLACEMENTS,
                StreamsSettings.DEFAULT_THREAD_REPLACEMENT_PERIOD);
        return new EnforcerConfig(kafkaBootstrap, streams, 0, null, 1, BigDecimal.ZERO,
                dbUrl == null ? null : new DatabaseSettings(dbUrl, dbUser, dbPassword), null, null, null,
                TopicSettings.singleBroker(), ResetHorizon.DEFAULT);
    }

    public String applicationId() {
        return streams.applicationId();
    }

    public Path stateDir() {
        return streams.stateDir();
    }

    public Duration commitInterval() {
        return streams.commitInterval();
    }

    public int streamThreads() {
        return streams.streamThreads();
    }

    /** {@code METER_DB_URL}, null without a database. */
    public String dbUrl() {
        return database == null ? null : database.url();
    }

    public String dbUser() {
        return database == null ? null : database.user();
    }

    /** Never printed; empty when unset. */
    public String dbPassword() {
        return database == null ? "" : database.password();
    }

    public Set<String> adminEmails() {
        return adminJwt.adminEmails();
    }

    public EnforcerConfig withGrace(BigDecimal newGrace) {
        return new EnforcerConfig(kafkaBootstrap, streams, port, advertisedUrl, standbyReplicas, newGrace, database,
                adminJwt, apiKeyCacheTtl, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withAdvertisedUrl(URI url) {
        return new EnforcerConfig(kafkaBootstrap, streams, port, url, standbyReplicas, grace, database,
                adminJwt, apiKeyCacheTtl, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withPort(int newPort) {
        return new EnforcerConfig(kafkaBootstrap, streams, newPort, advertisedUrl, standbyReplicas, grace, database,
                adminJwt, apiKeyCacheTtl, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withStateDir(Path dir) {
        return withStreams(streams.withStateDir(dir));
    }

    public EnforcerConfig withApplicationId(String id) {
        return withStreams(streams.withApplicationId(id));
    }

    private EnforcerConfig withStreams(StreamsSettings newStreams) {
        return new EnforcerConfig(kafkaBootstrap, newStreams, port, advertisedUrl, standbyReplicas, grace, database,
                adminJwt, apiKeyCacheTtl, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withAdminAuth(String secret, String publicKeyPem, Set<String> emails) {
        return new EnforcerConfig(kafkaBootstrap, streams, port, advertisedUrl, standbyReplicas, grace, database,
                new AdminJwtSettings(secret, publicKeyPem, emails, adminJwt.issuer(), adminJwt.audience()),
                apiKeyCacheTtl, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withHttpLimits(HttpLimits limits) {
        return new EnforcerConfig(kafkaBootstrap, streams, port, advertisedUrl, standbyReplicas, grace, database,
                adminJwt, apiKeyCacheTtl, limits, topicSettings, resetHorizon);
    }

    /** This instance's URL for other instances, once the HTTP port is known. */
    public URI advertisedUrl(int boundPort) {
        return advertisedUrl != null ? advertisedUrl : URI.create("http://localhost:" + boundPort);
    }

    /** The Kafka Streams properties. No default serdes: every source, sink and store names its own. */
    public Properties streamsProperties(URI advertised) {
        Properties p = StreamsProperties.exactlyOnce(kafkaBootstrap, streams);
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, standbyReplicas);
        p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, advertised.getHost() + ":" + advertised.getPort());
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterDeserializationHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProcessingHandler.class);
        p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProductionHandler.class);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
        return p;
    }

    /** Producer of admin commands and plans: idempotent, acknowledged by all in-sync replicas. */
    public Properties producerProperties(String clientId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        return p;
    }

    public Properties adminProperties() {
        Properties p = new Properties();
        p.put("bootstrap.servers", kafkaBootstrap);
        return p;
    }

    /** Secrets left out: the password, the HS256 key; the JDBC URL masked. */
    @Override
    public String toString() {
        return "EnforcerConfig[kafkaBootstrap=" + kafkaBootstrap + ", " + streams + ", port=" + port
                + ", advertisedUrl=" + advertisedUrl + ", standbyReplicas=" + standbyReplicas + ", grace=" + grace
                + ", database=" + (database == null ? "(none)" : database) + ", " + adminJwt
                + ", apiKeyCacheTtl=" + apiKeyCacheTtl + ", httpLimits=" + httpLimits + ", topicSettings=" + topicSettings + "]";
    }

    /** The JDBC URL without user info or query parameters, for messages. */
    public String maskedDbUrl() {
        return database == null ? "(none)" : database.maskedUrl();
    }
}
