package io.usagemeter.notifier;

import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.auth.AdminJwtSettings;
import io.usagemeter.kit.auth.PlaceholderSecrets;
import io.usagemeter.notifier.internal.RetrySchedule;
import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.vault.TokenKeyset;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * The notifier's settings, parsed once from {@code METER_*} variables; Kafka properties are derived
 * here and nowhere else.
 *
 * @param kafkaBootstrap {@code METER_KAFKA_BOOTSTRAP}
 * @param groupId {@code METER_NOTIFIER_GROUP_ID}: the consumer group reading {@code meter.limit-events}
 * @param port HTTP port of the webhook admin API, health and metrics ({@code METER_NOTIFIER_PORT}; 0 picks a free one)
 * @param dbUrl {@code METER_DB_URL}: endpoints, sealed secrets and the delivery log
 * @param keyset {@code METER_TOKEN_KEYSET}: the token vault's keyset, which seals the webhook secrets
 * @param retrySchedule {@code METER_WEBHOOK_RETRY_SCHEDULE}: waits between attempts
 * @param allowPrivate {@code METER_WEBHOOK_ALLOW_PRIVATE}: whether loopback, private and link-local
 *     destinations are allowed (only for development: {@code meter dev} sets it)
 * @param adminJwt how admin tokens are checked on {@code /v1/admin/webhooks} ({@code METER_ADMIN_JWT_*},
 *     {@code METER_ADMIN_EMAILS}), as on the enforcer
 * @param httpLimits connection cap, in-flight bound and body limit ({@code METER_HTTP_*}), as every service
 */
public record NotifierConfig(
        String kafkaBootstrap,
        String groupId,
        int port,
        String dbUrl,
        String dbUser,
        String dbPassword,
        TokenKeyset keyset,
        RetrySchedule retrySchedule,
        boolean allowPrivate,
        AdminJwtSettings adminJwt,
        HttpLimits httpLimits) {

    public static final String DEFAULT_GROUP_ID = "usage-meter-notifier";
    public static final int DEFAULT_PORT = 8083;
    /** The Standard Webhooks timeouts: a receiver should answer quickly and do its work later. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    public static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(10);
    /** How long a rotated-out secret keeps signing, so receivers can switch without missing a delivery. */
    public static final Duration SECRET_OVERLAP = Duration.ofHours(24);

    private static final String DB_NEEDED = "the notifier keeps endpoints and the delivery log in PostgreSQL";

    public NotifierConfig {
        Objects.requireNonNull(kafkaBootstrap, "METER_KAFKA_BOOTSTRAP");
        Objects.requireNonNull(groupId, "METER_NOTIFIER_GROUP_ID");
        Objects.requireNonNull(dbUrl, "METER_DB_URL");
        Objects.requireNonNull(dbUser, "METER_DB_USER");
        Objects.requireNonNull(keyset, TokenKeyset.VARIABLE);
        Objects.requireNonNull(retrySchedule, "METER_WEBHOOK_RETRY_SCHEDULE");
        adminJwt = adminJwt == null ? AdminJwtSettings.disabled() : adminJwt;
        httpLimits = httpLimits == null ? HttpLimits.defaults() : httpLimits;
        dbPassword = dbPassword == null ? "" : dbPassword;
        PlaceholderSecrets.refuse("METER_DB_PASSWORD", dbPassword);
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("METER_NOTIFIER_PORT must be 0..65535, was " + port);
        }
    }

    public static NotifierConfig fromEnv(Map<String, String> env) {
        MeterEnvironment e = MeterEnvironment.of(env);
        DatabaseSettings database = DatabaseSettings.forService(e, DB_NEEDED);
        return new NotifierConfig(
                KafkaSettings.from(e).bootstrapServers(),
                e.string("METER_NOTIFIER_GROUP_ID", DEFAULT_GROUP_ID),
                e.port("METER_NOTIFIER_PORT", DEFAULT_PORT),
                database.url(),
                database.user(),
                database.password(),
                TokenKeyset.fromEnvironment(env),
                RetrySchedule.parse("METER_WEBHOOK_RETRY_SCHEDULE", e.string("METER_WEBHOOK_RETRY_SCHEDULE", null)),
                flag(e, "METER_WEBHOOK_ALLOW_PRIVATE"),
                AdminJwtSettings.fromEnv(e),
                HttpLimits.fromEnv(env));
    }

    private static boolean flag(MeterEnvironment e, String name) {
        String value = e.string(name, "false");
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(name + " must be true or false, was '" + value + "'");
        };
    }

    /** Read committed: the enforcer writes limit events in transactions, and an aborted one must never be sent. */
    public Properties consumerProperties() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafkaBootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, groupId + "-limit-events");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 500);
        // A restarted notifier gets its partitions back soon after a crash, as the other services do.
        p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        return p;
    }

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

    public NotifierConfig withPort(int newPort) {
        return new NotifierConfig(kafkaBootstrap, groupId, newPort, dbUrl, dbUser, dbPassword, keyset, retrySchedule,
                allowPrivate, adminJwt, httpLimits);
    }

    public NotifierConfig withAllowPrivate(boolean allow) {
        return new NotifierConfig(kafkaBootstrap, groupId, port, dbUrl, dbUser, dbPassword, keyset, retrySchedule,
                allow, adminJwt, httpLimits);
    }

    /** Lists no secret. */
    @Override
    public String toString() {
        return "NotifierConfig[kafka=" + kafkaBootstrap + ", group=" + groupId + ", port=" + port + ", retries="
                + retrySchedule + ", allowPrivate=" + allowPrivate + ", " + adminJwt + ", " + httpLimits + "]";
    }
}
