package io.usagemeter.enforcer;

import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.auth.AdminJwtSettings;
import io.usagemeter.kit.auth.PlaceholderSecrets;
import io.usagemeter.enforcer.internal.DeadLetterDeserializationHandler;
import io.usagemeter.enforcer.internal.DeadLetterProcessingHandler;
import io.usagemeter.enforcer.internal.DeadLetterProductionHandler;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.sync.CredentialMask;
import io.usagemeter.schema.topics.Topics;
import io.usagemeter.schema.topics.TopicSettings;
import java.math.BigDecimal;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The enforcer's settings, parsed once from {@code METER_*} variables; Kafka properties are
 * derived here and nowhere else.
 *
 * @param kafkaBootstrap {@code METER_KAFKA_BOOTSTRAP}
 * @param applicationId {@code METER_ENFORCER_APPLICATION_ID}: consumer group and prefix of internal topics
 * @param port HTTP port of limit checks and admin routes ({@code METER_ENFORCER_PORT}; 0 picks a free one)
 * @param advertisedUrl how other instances reach this one ({@code METER_ENFORCER_ADVERTISED_URL}); its
 *     host:port becomes {@code application.server}. {@code null} means {@code http://localhost:<port>}
 * @param stateDir local state stores ({@code METER_ENFORCER_STATE_DIR}); kept across restarts
 * @param standbyReplicas {@code num.standby.replicas} ({@code METER_ENFORCER_STANDBY_REPLICAS}, default 1:
 *     with two or more instances a standby answers, flagged stale, while the owner restores)
 * @param commitInterval {@code METER_ENFORCER_COMMIT_INTERVAL} (ISO-8601)
 * @param grace how far usage may run over the limit before checks answer not allowed, as a fraction
 *     ({@code METER_ENFORCER_GRACE_PERCENT}, default 0)
 * @param dbUrl {@code METER_DB_URL}; {@code null} only in tests that run without PostgreSQL
 * @param adminJwtSecret HS256 key of admin tokens ({@code METER_ADMIN_JWT_SECRET}); never printed
 * @param adminJwtPublicKey RS256 public key of admin tokens, PEM ({@code METER_ADMIN_JWT_PUBLIC_KEY})
 * @param adminEmails the e-mail claims allowed on admin routes ({@code METER_ADMIN_EMAILS}, comma-separated)
 * @param adminJwtIssuer the {@code iss} admin tokens must carry ({@code METER_ADMIN_JWT_ISSUER})
 * @param adminJwtAudience the {@code aud} admin tokens must carry ({@code METER_ADMIN_JWT_AUDIENCE})
 * @param apiKeyCacheTtl how long an API key lookup is cached ({@code METER_ENFORCER_API_KEY_CACHE_TTL})
 * @param threadReplacements dead stream threads replaced per period before the instance shuts down
 *     ({@code METER_ENFORCER_THREAD_REPLACEMENTS})
 * @param threadReplacementPeriod that period ({@code METER_ENFORCER_THREAD_REPLACEMENT_PERIOD})
 * @param httpLimits connection cap, in-flight bound and body limit ({@code METER_HTTP_*})
 * @param resetHorizon which months a usage reset may name ({@code METER_AGGREGATOR_RESET_HORIZON_MONTHS}, the
 *     aggregator's setting: the route refuses what the aggregator would, and the PostgreSQL writer records neither)
 */
public record EnforcerConfig(
        String kafkaBootstrap,
        String applicationId,
        int port,
        URI advertisedUrl,
        Path stateDir,
        int standbyReplicas,
        Duration commitInterval,
        BigDecimal grace,
        int streamThreads,
        String dbUrl,
        String dbUser,
        String dbPassword,
        String adminJwtSecret,
        String adminJwtPublicKey,
        Set<String> adminEmails,
        String adminJwtIssuer,
        String adminJwtAudience,
        Duration apiKeyCacheTtl,
        int threadReplacements,
        Duration threadReplacementPeriod,
        HttpLimits httpLimits,
        TopicSettings topicSettings,
        ResetHorizon resetHorizon) {

    public static final String DEFAULT_APPLICATION_ID = "usage-meter-enforcer";
    public static final int DEFAULT_PORT = 8081;
    public static final Duration DEFAULT_API_KEY_CACHE_TTL = Duration.ofSeconds(30);
    public static final int DEFAULT_THREAD_REPLACEMENTS = 3;
    public static final Duration DEFAULT_THREAD_REPLACEMENT_PERIOD = Duration.ofMinutes(10);

    private static final String DB_NEEDED = "the enforcer reads plans from and writes entitlements to the service database";

    public EnforcerConfig {
        Objects.requireNonNull(kafkaBootstrap, "METER_KAFKA_BOOTSTRAP");
        Objects.requireNonNull(applicationId, "METER_ENFORCER_APPLICATION_ID");
        Objects.requireNonNull(stateDir, "METER_ENFORCER_STATE_DIR");
        Objects.requireNonNull(commitInterval, "METER_ENFORCER_COMMIT_INTERVAL");
        Objects.requireNonNull(grace, "METER_ENFORCER_GRACE_PERCENT");
        Objects.requireNonNull(topicSettings, "topicSettings");
        Objects.requireNonNull(resetHorizon, "resetHorizon");
        adminEmails = adminEmails == null ? Set.of() : Set.copyOf(adminEmails);
        dbPassword = dbPassword == null ? "" : dbPassword;
        PlaceholderSecrets.refuse("METER_DB_PASSWORD", dbPassword);
        adminJwtIssuer = adminJwtIssuer == null ? AdminJwtSettings.DEFAULT_ISSUER : adminJwtIssuer;
        adminJwtAudience = adminJwtAudience == null ? AdminJwtSettings.DEFAULT_AUDIENCE : adminJwtAudience;
        apiKeyCacheTtl = apiKeyCacheTtl == null ? DEFAULT_API_KEY_CACHE_TTL : apiKeyCacheTtl;
        threadReplacementPeriod = threadReplacementPeriod == null ? DEFAULT_THREAD_REPLACEMENT_PERIOD
                : threadReplacementPeriod;
        httpLimits = httpLimits == null ? HttpLimits.defaults() : httpLimits;
        if (threadReplacements < 0) {
            throw new IllegalArgumentException("METER_ENFORCER_THREAD_REPLACEMENTS must not be negative, was "
                    + threadReplacements);
        }
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("METER_ENFORCER_PORT must be 0..65535, was " + port);
        }
        if (standbyReplicas < 0) {
            throw new IllegalArgumentException("METER_ENFORCER_STANDBY_REPLICAS must not be negative, was " + standbyReplicas);
        }
        if (streamThreads < 1) {
            throw new IllegalArgumentException("METER_ENFORCER_STREAM_THREADS must be at least 1, was " + streamThreads);
        }
        if (grace.signum() < 0) {
            throw new IllegalArgumentException("METER_ENFORCER_GRACE_PERCENT must not be negative, was " + grace);
        }
        // Validates the admin key settings (one algorithm, key length, no placeholder) at once.
        new AdminJwtSettings(adminJwtSecret, adminJwtPublicKey, adminEmails, adminJwtIssuer, adminJwtAudience);
    }

    /** How admin tokens are checked. */
    public AdminJwtSettings adminJwt() {
        return new AdminJwtSettings(adminJwtSecret, adminJwtPublicKey, adminEmails, adminJwtIssuer, adminJwtAudience);
    }

    public static EnforcerConfig fromEnv(Map<String, String> env) {
        MeterEnvironment e = MeterEnvironment.of(env);
        return new EnforcerConfig(
                KafkaSettings.from(e).bootstrapServers(),
                e.string("METER_ENFORCER_APPLICATION_ID", DEFAULT_APPLICATION_ID),
                e.port("METER_ENFORCER_PORT", DEFAULT_PORT),
                e.url("METER_ENFORCER_ADVERTISED_URL", null),
                e.path("METER_ENFORCER_STATE_DIR", Path.of(System.getProperty("java.io.tmpdir"), "usage-meter", "enforcer")),
                e.intIn("METER_ENFORCER_STANDBY_REPLICAS", 1, 0, Integer.MAX_VALUE),
                e.isoDuration("METER_ENFORCER_COMMIT_INTERVAL", Duration.ofMillis(100)),
                e.decimalAtLeast("METER_ENFORCER_GRACE_PERCENT", BigDecimal.ZERO, BigDecimal.ZERO).movePointLeft(2),
                e.positiveInt("METER_ENFORCER_STREAM_THREADS", 1),
                e.required("METER_DB_URL", DB_NEEDED),
                e.required("METER_DB_USER", DB_NEEDED),
                e.secret("METER_DB_PASSWORD", null),
                e.string("METER_ADMIN_JWT_SECRET", null),
                e.string("METER_ADMIN_JWT_PUBLIC_KEY", null),
                e.list("METER_ADMIN_EMAILS").stream().map(s -> s.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet()),
                e.string("METER_ADMIN_JWT_ISSUER", AdminJwtSettings.DEFAULT_ISSUER),
                e.string("METER_ADMIN_JWT_AUDIENCE", AdminJwtSettings.DEFAULT_AUDIENCE),
                e.duration("METER_ENFORCER_API_KEY_CACHE_TTL", DEFAULT_API_KEY_CACHE_TTL),
                e.intIn("METER_ENFORCER_THREAD_REPLACEMENTS", DEFAULT_THREAD_REPLACEMENTS, 0, Integer.MAX_VALUE),
                e.isoDuration("METER_ENFORCER_THREAD_REPLACEMENT_PERIOD", DEFAULT_THREAD_REPLACEMENT_PERIOD),
                HttpLimits.fromEnv(env),
                TopicSettings.fromEnv(env),
                ResetHorizon.fromEnv(env));
    }

    /** Defaults everywhere except where Kafka and PostgreSQL are: for tests and the dev stack. */
    public static EnforcerConfig defaults(String kafkaBootstrap, Path stateDir, String dbUrl, String dbUser, String dbPassword) {
        return new EnforcerConfig(kafkaBootstrap, DEFAULT_APPLICATION_ID, 0, null, stateDir, 1, Duration.ofMillis(100),
                BigDecimal.ZERO, 1, dbUrl, dbUser, dbPassword, null, null, Set.of(), null, null, null,
                DEFAULT_THREAD_REPLACEMENTS, null, null, TopicSettings.singleBroker(),
                ResetHorizon.DEFAULT);
    }

    public EnforcerConfig withGrace(BigDecimal newGrace) {
        return new EnforcerConfig(kafkaBootstrap, applicationId, port, advertisedUrl, stateDir, standbyReplicas,
                commitInterval, newGrace, streamThreads, dbUrl, dbUser, dbPassword, adminJwtSecret, adminJwtPublicKey,
                adminEmails, adminJwtIssuer, adminJwtAudience, apiKeyCacheTtl, threadReplacements,
                threadReplacementPeriod, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withAdvertisedUrl(URI url) {
        return new EnforcerConfig(kafkaBootstrap, applicationId, port, url, stateDir, standbyReplicas,
                commitInterval, grace, streamThreads, dbUrl, dbUser, dbPassword, adminJwtSecret, adminJwtPublicKey,
                adminEmails, adminJwtIssuer, adminJwtAudience, apiKeyCacheTtl, threadReplacements,
                threadReplacementPeriod, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withPort(int newPort) {
        return new EnforcerConfig(kafkaBootstrap, applicationId, newPort, advertisedUrl, stateDir, standbyReplicas,
                commitInterval, grace, streamThreads, dbUrl, dbUser, dbPassword, adminJwtSecret, adminJwtPublicKey,
                adminEmails, adminJwtIssuer, adminJwtAudience, apiKeyCacheTtl, threadReplacements,
                threadReplacementPeriod, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withStateDir(Path dir) {
        return new EnforcerConfig(kafkaBootstrap, applicationId, port, advertisedUrl, dir, standbyReplicas,
                commitInterval, grace, streamThreads, dbUrl, dbUser, dbPassword, adminJwtSecret, adminJwtPublicKey,
                adminEmails, adminJwtIssuer, adminJwtAudience, apiKeyCacheTtl, threadReplacements,
                threadReplacementPeriod, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withAdminAuth(String secret, String publicKeyPem, Set<String> emails) {
        return new EnforcerConfig(kafkaBootstrap, applicationId, port, advertisedUrl, stateDir, standbyReplicas,
                commitInterval, grace, streamThreads, dbUrl, dbUser, dbPassword, secret, publicKeyPem,
                emails, adminJwtIssuer, adminJwtAudience, apiKeyCacheTtl, threadReplacements,
                threadReplacementPeriod, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withApplicationId(String id) {
        return new EnforcerConfig(kafkaBootstrap, id, port, advertisedUrl, stateDir, standbyReplicas,
                commitInterval, grace, streamThreads, dbUrl, dbUser, dbPassword, adminJwtSecret, adminJwtPublicKey,
                adminEmails, adminJwtIssuer, adminJwtAudience, apiKeyCacheTtl, threadReplacements,
                threadReplacementPeriod, httpLimits, topicSettings, resetHorizon);
    }

    public EnforcerConfig withHttpLimits(HttpLimits limits) {
        return new EnforcerConfig(kafkaBootstrap, applicationId, port, advertisedUrl, stateDir, standbyReplicas,
                commitInterval, grace, streamThreads, dbUrl, dbUser, dbPassword, adminJwtSecret, adminJwtPublicKey,
                adminEmails, adminJwtIssuer, adminJwtAudience, apiKeyCacheTtl, threadReplacements,
                threadReplacementPeriod, limits, topicSettings, resetHorizon);
    }

    /** This instance's URL for other instances, once the HTTP port is known. */
    public URI advertisedUrl(int boundPort) {
        return advertisedUrl != null ? advertisedUrl : URI.create("http://localhost:" + boundPort);
    }

    /** The Kafka Streams properties. No default serdes: every source, sink and store names its own. */
    public Properties streamsProperties(URI advertised) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.ENSURE_EXPLICIT_INTERNAL_RESOURCE_NAMING_CONFIG, true);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitInterval.toMillis());
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, streamThreads);
        p.put(StreamsConfig.NUM_STANDBY_REPLICAS_CONFIG, standbyReplicas);
        p.put(StreamsConfig.APPLICATION_SERVER_CONFIG, advertised.getHost() + ":" + advertised.getPort());
        // A record that does not parse or cannot be processed goes to the dead-letter topic with the reason
        // (KIP-1034) and processing continues, as in the aggregator: no input can crash-loop a stream thread.
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, Topics.DEAD_LETTER.name());
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterDeserializationHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProcessingHandler.class);
        p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProductionHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        // A crashed instance's users move to a standby after 10 s instead of the default 45 s.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
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
        return "EnforcerConfig[kafkaBootstrap=" + kafkaBootstrap + ", applicationId=" + applicationId + ", port=" + port
                + ", advertisedUrl=" + advertisedUrl + ", stateDir=" + stateDir + ", standbyReplicas=" + standbyReplicas
                + ", commitInterval=" + commitInterval + ", grace=" + grace + ", streamThreads=" + streamThreads
                + ", dbUrl=" + maskedDbUrl() + ", dbUser=" + dbUser + ", dbPassword=***, " + adminJwt()
                + ", apiKeyCacheTtl=" + apiKeyCacheTtl + ", threadReplacements=" + threadReplacements + " per "
                + threadReplacementPeriod + ", httpLimits=" + httpLimits + ", topicSettings=" + topicSettings + "]";
    }

    /** The JDBC URL without user info or query parameters, for messages. */
    public String maskedDbUrl() {
        return dbUrl == null ? "(none)" : CredentialMask.maskUrl(dbUrl);
    }
}
