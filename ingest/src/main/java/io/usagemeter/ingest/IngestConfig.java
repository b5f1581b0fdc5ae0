package io.usagemeter.ingest;

import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.auth.PlaceholderSecrets;
import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.sync.CredentialMask;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * Configuration of {@code meter ingest}, read once from {@code METER_*} environment variables.
 *
 * @param port HTTP port ({@code METER_INGEST_PORT}); 0 picks a free one
 * @param kafkaBootstrap Kafka bootstrap servers ({@code METER_KAFKA_BOOTSTRAP})
 * @param dbUrl JDBC URL of the database holding API keys ({@code METER_DB_URL})
 * @param dbUser its user ({@code METER_DB_USER})
 * @param dbPassword its password ({@code METER_DB_PASSWORD}); never printed
 * @param maxBodyBytes largest accepted request body ({@code METER_INGEST_MAX_BODY_BYTES}); larger → 413
 * @param maxBatchEvents most events in one request ({@code METER_INGEST_MAX_BATCH_EVENTS}); more → 413
 * @param ackTimeout how long a request waits for Kafka to acknowledge all its records
 *     ({@code METER_INGEST_ACK_TIMEOUT}); longer → 503
 * @param apiKeyCacheTtl how long a key lookup is cached, hence how long a revoked key may still work
 *     ({@code METER_INGEST_API_KEY_CACHE_TTL})
 * @param maxLateness events older than this are rejected ({@code METER_INGEST_MAX_LATENESS})
 * @param httpLimits connection cap and in-flight bound ({@code METER_HTTP_*}, in-flight default
 *     {@link #DEFAULT_MAX_IN_FLIGHT}); its body limit is {@code maxBodyBytes}
 */
public record IngestConfig(
        int port,
        String kafkaBootstrap,
        String dbUrl,
        String dbUser,
        String dbPassword,
        int maxBodyBytes,
        int maxBatchEvents,
        Duration ackTimeout,
        Duration apiKeyCacheTtl,
        Duration maxLateness,
        HttpLimits httpLimits) {

    public static final int DEFAULT_PORT = 8080;
    public static final String DEFAULT_KAFKA_BOOTSTRAP = KafkaSettings.DEFAULT_BOOTSTRAP_SERVERS;
    public static final int DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
    public static final int DEFAULT_MAX_BATCH_EVENTS = 1000;
    public static final Duration DEFAULT_ACK_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration DEFAULT_API_KEY_CACHE_TTL = Duration.ofSeconds(30);
    public static final Duration DEFAULT_MAX_LATENESS = Duration.ofDays(35);
    /**
     * Ingest's own in-flight bound, below the kit's: every request holds its thread until Kafka acknowledged
     * it, so past the point where the producer and broker are saturated more requests in flight only add
     * waiting (in-flight / throughput), never throughput. 64 keeps that wait to a few tens of milliseconds
     * at a few thousand single events per second and leaves room for a faster machine; past it requests
     * are shed at once with 503 and {@code Retry-After}.
     */
    public static final int DEFAULT_MAX_IN_FLIGHT = 64;
    public static final HttpLimits DEFAULT_HTTP_LIMITS = HttpLimits.defaults().withMaxInFlight(DEFAULT_MAX_IN_FLIGHT);

    /**
     * Every request waits for its acknowledgement, so linger is paid by every caller; concurrent
     * requests fill batches anyway.
     */
    private static final Duration PRODUCER_LINGER = Duration.ofMillis(1);
    private static final String NEEDED = "meter ingest reads API keys from the service database";

    public IngestConfig {
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("METER_INGEST_PORT must be 0..65535, was " + port);
        }
        requireText(kafkaBootstrap, "METER_KAFKA_BOOTSTRAP");
        requireText(dbUrl, "METER_DB_URL");
        requireText(dbUser, "METER_DB_USER");
        dbPassword = dbPassword == null ? "" : dbPassword;
        PlaceholderSecrets.refuse("METER_DB_PASSWORD", dbPassword);
        if (maxBodyBytes < 1024) {
            throw new IllegalArgumentException("METER_INGEST_MAX_BODY_BYTES must be at least 1024, was " + maxBodyBytes);
        }
        if (maxBatchEvents < 1) {
            throw new IllegalArgumentException("METER_INGEST_MAX_BATCH_EVENTS must be at least 1, was " + maxBatchEvents);
        }
        requirePositive(ackTimeout, "METER_INGEST_ACK_TIMEOUT");
        requirePositive(apiKeyCacheTtl, "METER_INGEST_API_KEY_CACHE_TTL");
        requirePositive(maxLateness, "METER_INGEST_MAX_LATENESS");
        if (ackTimeout.toMillis() < 500) {
            throw new IllegalArgumentException("METER_INGEST_ACK_TIMEOUT must be at least 500ms, was " + ackTimeout);
        }
        httpLimits = (httpLimits == null ? DEFAULT_HTTP_LIMITS : httpLimits).withMaxBodyBytes(maxBodyBytes);
    }

    /** Reads the configuration from {@code env} (usually {@link System#getenv()}), failing fast on bad values. */
    public static IngestConfig fromEnv(Map<String, String> variables) {
        MeterEnvironment env = MeterEnvironment.of(variables);
        DatabaseSettings database = DatabaseSettings.forService(env, NEEDED);
        return new IngestConfig(
                env.port("METER_INGEST_PORT", DEFAULT_PORT),
                KafkaSettings.from(env).bootstrapServers(),
                database.url(),
                database.user(),
                database.password(),
                env.intIn("METER_INGEST_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, Integer.MAX_VALUE),
                env.positiveInt("METER_INGEST_MAX_BATCH_EVENTS", DEFAULT_MAX_BATCH_EVENTS),
                env.duration("METER_INGEST_ACK_TIMEOUT", DEFAULT_ACK_TIMEOUT),
                env.duration("METER_INGEST_API_KEY_CACHE_TTL", DEFAULT_API_KEY_CACHE_TTL),
                env.duration("METER_INGEST_MAX_LATENESS", DEFAULT_MAX_LATENESS),
                HttpLimits.fromEnv(variables, DEFAULT_HTTP_LIMITS));
    }

    /** A configuration with every default, for tests and {@code meter dev}. */
    public static IngestConfig defaults(String kafkaBootstrap, String dbUrl, String dbUser, String dbPassword) {
        return new IngestConfig(DEFAULT_PORT, kafkaBootstrap, dbUrl, dbUser, dbPassword, DEFAULT_MAX_BODY_BYTES,
                DEFAULT_MAX_BATCH_EVENTS, DEFAULT_ACK_TIMEOUT, DEFAULT_API_KEY_CACHE_TTL, DEFAULT_MAX_LATENESS,
                DEFAULT_HTTP_LIMITS);
    }

    public IngestConfig withPort(int newPort) {
        return new IngestConfig(newPort, kafkaBootstrap, dbUrl, dbUser, dbPassword, maxBodyBytes, maxBatchEvents,
                ackTimeout, apiKeyCacheTtl, maxLateness, httpLimits);
    }

    public IngestConfig withLimits(int newMaxBodyBytes, int newMaxBatchEvents) {
        return new IngestConfig(port, kafkaBootstrap, dbUrl, dbUser, dbPassword, newMaxBodyBytes, newMaxBatchEvents,
                ackTimeout, apiKeyCacheTtl, maxLateness, httpLimits);
    }

    public IngestConfig withTimeouts(Duration newAckTimeout, Duration newApiKeyCacheTtl) {
        return new IngestConfig(port, kafkaBootstrap, dbUrl, dbUser, dbPassword, maxBodyBytes, maxBatchEvents,
                newAckTimeout, newApiKeyCacheTtl, maxLateness, httpLimits);
    }

    public IngestConfig withHttpLimits(HttpLimits limits) {
        return new IngestConfig(port, kafkaBootstrap, dbUrl, dbUser, dbPassword, maxBodyBytes, maxBatchEvents,
                ackTimeout, apiKeyCacheTtl, maxLateness, limits);
    }

    /**
     * The producer, derived from the acknowledgement bound: a request waits at most
     * {@link #ackTimeout} for its records, so a record may not sit in the producer longer either
     * ({@code delivery.timeout.ms}), {@code send()} may not block longer ({@code max.block.ms}),
     * and one broker request must fit inside it ({@code request.timeout.ms}, which Kafka requires
     * to be at most {@code delivery.timeout.ms - linger.ms}). Idempotent with {@code acks=all},
     * so the producer's own retries never duplicate or reorder a partition.
     */
    public Properties producerProperties() {
        long bound = ackTimeout.toMillis();
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "meter-ingest");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        p.put(ProducerConfig.LINGER_MS_CONFIG, (int) PRODUCER_LINGER.toMillis());
        p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) bound);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) (bound - PRODUCER_LINGER.toMillis()));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, bound);
        // Reconnect quickly after a broker restart instead of backing off up to the default 1 s.
        p.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        return p;
    }

    /** The admin client behind {@code /health/ready}. */
    public Properties adminProperties() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "meter-ingest-health");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 2_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 2_000);
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);
        return p;
    }

    /** The password is left out and query parameters of the JDBC URL (which may carry one) are masked. */
    @Override
    public String toString() {
        return "IngestConfig[port=" + port + ", kafkaBootstrap=" + kafkaBootstrap + ", dbUrl=" + maskedDbUrl()
                + ", dbUser=" + dbUser + ", dbPassword=***, maxBodyBytes=" + maxBodyBytes
                + ", maxBatchEvents=" + maxBatchEvents + ", ackTimeout=" + ackTimeout
                + ", apiKeyCacheTtl=" + apiKeyCacheTtl + ", maxLateness=" + maxLateness + ", httpLimits=" + httpLimits + "]";
    }

    public String maskedDbUrl() {
        return CredentialMask.maskUrl(dbUrl);
    }

    private static void requireText(String value, String name) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(name + " must not be empty");
        }
    }

    private static void requirePositive(Duration value, String name) {
        Objects.requireNonNull(value, name);
        if (value.isNegative() || value.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, was " + value);
        }
    }
}
