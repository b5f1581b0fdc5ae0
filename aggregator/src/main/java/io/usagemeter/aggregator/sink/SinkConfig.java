package io.usagemeter.aggregator.sink;

import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.sync.CredentialMask;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The sink's settings, parsed once from {@code METER_*} variables. Kafka client properties and the
 * database's {@link DataSource} are derived here and nowhere else.
 *
 * @param name the consumer group id, and the sink's name in {@code sink_offsets}
 * @param maxPollRecords the most records one batch (one database transaction) holds
 * @param retryBackoffMin first wait after a failed write; doubled per failure up to {@code retryBackoffMax}
 */
public record SinkConfig(
        String bootstrapServers,
        String name,
        SinkTopics topics,
        int maxPollRecords,
        Duration retryBackoffMin,
        Duration retryBackoffMax,
        String dbUrl,
        String dbUser,
        String dbPassword) {

    public static final String KAFKA_BOOTSTRAP = KafkaSettings.BOOTSTRAP;
    public static final String SINK_NAME = "METER_SINK_NAME";
    public static final String MAX_POLL_RECORDS = "METER_SINK_MAX_POLL_RECORDS";
    public static final String RETRY_BACKOFF_MAX_MS = "METER_SINK_RETRY_BACKOFF_MAX_MS";
    public static final String DB_URL = DatabaseSettings.URL;
    public static final String DB_USER = DatabaseSettings.USER;
    public static final String DB_PASSWORD = DatabaseSettings.PASSWORD;

    public static final String DEFAULT_BOOTSTRAP = KafkaSettings.DEFAULT_BOOTSTRAP_SERVERS;
    public static final String DEFAULT_NAME = "meter-usage-sink";
    public static final int DEFAULT_MAX_POLL_RECORDS = 5000;
    public static final Duration DEFAULT_RETRY_BACKOFF_MIN = Duration.ofMillis(100);
    public static final Duration DEFAULT_RETRY_BACKOFF_MAX = Duration.ofSeconds(30);

    public SinkConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(topics, "topics");
        Objects.requireNonNull(retryBackoffMin, "retryBackoffMin");
        Objects.requireNonNull(retryBackoffMax, "retryBackoffMax");
        if (name.isBlank() || name.length() > 200) {
            throw new IllegalArgumentException(SINK_NAME + " must be 1 to 200 characters");
        }
        if (maxPollRecords < 1) {
            throw new IllegalArgumentException(MAX_POLL_RECORDS + " must be 1 or more, was " + maxPollRecords);
        }
        if (retryBackoffMin.isNegative() || retryBackoffMin.isZero() || retryBackoffMax.compareTo(retryBackoffMin) < 0) {
            throw new IllegalArgumentException(RETRY_BACKOFF_MAX_MS + " must be at least " + retryBackoffMin.toMillis()
                    + " ms, was " + retryBackoffMax.toMillis());
        }
    }

    /** Settings for a sink reading the standard topics from {@code bootstrapServers}; no database URL. */
    public static SinkConfig defaults(String bootstrapServers) {
        return new SinkConfig(bootstrapServers, DEFAULT_NAME, SinkTopics.standard(), DEFAULT_MAX_POLL_RECORDS,
                DEFAULT_RETRY_BACKOFF_MIN, DEFAULT_RETRY_BACKOFF_MAX, null, null, null);
    }

    /** Reads the sink's variables; fails naming the variable when one is malformed or missing. */
    public static SinkConfig fromEnvironment(Map<String, String> variables) {
        MeterEnvironment env = MeterEnvironment.of(variables);
        DatabaseSettings db = DatabaseSettings.from(env, "the sink writes to the service database,"
                + " e.g. jdbc:postgresql://localhost:5432/meter (user and password in " + DB_USER + " and " + DB_PASSWORD + ")");
        return new SinkConfig(
                KafkaSettings.from(env).bootstrapServers(),
                env.string(SINK_NAME, DEFAULT_NAME),
                SinkTopics.standard(),
                env.positiveInt(MAX_POLL_RECORDS, DEFAULT_MAX_POLL_RECORDS),
                DEFAULT_RETRY_BACKOFF_MIN,
                Duration.ofMillis(env.positiveInt(RETRY_BACKOFF_MAX_MS, (int) DEFAULT_RETRY_BACKOFF_MAX.toMillis())),
                db.url(),
                db.user(),
                db.password());
    }

    public SinkConfig withName(String name) {
        return new SinkConfig(bootstrapServers, name, topics, maxPollRecords, retryBackoffMin, retryBackoffMax,
                dbUrl, dbUser, dbPassword);
    }

    public SinkConfig withTopics(SinkTopics topics) {
        return new SinkConfig(bootstrapServers, name, topics, maxPollRecords, retryBackoffMin, retryBackoffMax,
                dbUrl, dbUser, dbPassword);
    }

    public SinkConfig withMaxPollRecords(int maxPollRecords) {
        return new SinkConfig(bootstrapServers, name, topics, maxPollRecords, retryBackoffMin, retryBackoffMax,
                dbUrl, dbUser, dbPassword);
    }

    public SinkConfig withRetryBackoff(Duration min, Duration max) {
        return new SinkConfig(bootstrapServers, name, topics, maxPollRecords, min, max, dbUrl, dbUser, dbPassword);
    }

    /**
     * The consumer's properties. Summaries come from exactly-once transactions, so only committed
     * records are read; Kafka's committed offsets are written for lag monitoring only, the sink
     * seeks from {@code sink_offsets}.
     */
    public Properties consumerProperties() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, name);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, name);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // Only used when a stored offset fell out of the log (retention); a partition never seen starts at its beginning.
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(maxPollRecords));
        // A crashed sink's partitions move to another instance after 10 s instead of the default 45 s.
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return props;
    }

    /** The dead-letter producer's properties: idempotent, acknowledged by every in-sync replica. */
    public Properties deadLetterProducerProperties() {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, name + "-dead-letters");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        return props;
    }

    /**
     * A data source that opens a plain connection per call; the sink keeps one open and replaces it
     * after a failure, so no pool is needed. Timeouts make a dead server fail a write instead of hanging it.
     */
    public DataSource dataSource() {
        if (dbUrl == null) {
            throw new IllegalStateException(DB_URL + " is not set");
        }
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setURL(dbUrl);
        if (dbUser != null && !dbUser.isBlank()) {
            ds.setUser(dbUser);
        }
        if (dbPassword != null && !dbPassword.isEmpty()) {
            ds.setPassword(dbPassword);
        }
        ds.setApplicationName(name);
        ds.setConnectTimeout(5);
        ds.setSocketTimeout(120);
        ds.setTcpKeepAlive(true);
        return ds;
    }

    public String maskedDbUrl() {
        return dbUrl == null ? null : CredentialMask.maskUrl(dbUrl);
    }

    @Override
    public String toString() {
        return "SinkConfig[bootstrapServers=" + bootstrapServers + ", name=" + name + ", topics=" + topics
                + ", maxPollRecords=" + maxPollRecords + ", retryBackoff=" + retryBackoffMin.toMillis() + ".."
                + retryBackoffMax.toMillis() + " ms, dbUrl=" + maskedDbUrl() + ", dbUser=" + dbUser + ", dbPassword=***]";
    }
}
