package io.usagemeter.schema.config;

import java.util.Optional;

/**
 * Where the Kafka cluster is ({@code METER_KAFKA_BOOTSTRAP}), read once for every service and verb, so the
 * variable's name and default live here only.
 */
public record KafkaSettings(String bootstrapServers) {

    public static final String BOOTSTRAP = "METER_KAFKA_BOOTSTRAP";
    public static final String DEFAULT_BOOTSTRAP_SERVERS = "localhost:9092";

    public KafkaSettings {
        if (bootstrapServers == null || bootstrapServers.isBlank()) {
            throw new IllegalArgumentException(BOOTSTRAP + " must be host:port[,host:port...], was blank");
        }
        bootstrapServers = bootstrapServers.strip();
    }

    /** {@code METER_KAFKA_BOOTSTRAP}, {@value #DEFAULT_BOOTSTRAP_SERVERS} when unset (the services). */
    public static KafkaSettings from(MeterEnvironment env) {
        return new KafkaSettings(env.string(BOOTSTRAP, DEFAULT_BOOTSTRAP_SERVERS));
    }

    /** {@code METER_KAFKA_BOOTSTRAP} when set (the verbs that go to Kafka only when told to). */
    public static Optional<KafkaSettings> ifSet(MeterEnvironment env) {
        return Optional.ofNullable(env.string(BOOTSTRAP, null)).map(KafkaSettings::new);
    }
}
