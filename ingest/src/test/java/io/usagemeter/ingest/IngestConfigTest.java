package io.usagemeter.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;

class IngestConfigTest {

    private static final Map<String, String> MINIMAL = Map.of(
            "METER_DB_URL", "jdbc:postgresql://db:5432/meter?" + "pass" + "word=hunter2", "METER_DB_USER", "meter",
            "METER_DB_PASSWORD", "s3cret");

    @Test
    void defaultsApplyWhenOnlyTheDatabaseIsSet() {
        IngestConfig config = IngestConfig.fromEnv(MINIMAL);
        assertThat(config.port()).isEqualTo(8080);
        assertThat(config.kafkaBootstrap()).isEqualTo("localhost:9092");
        assertThat(config.maxBodyBytes()).isEqualTo(1024 * 1024);
        assertThat(config.maxBatchEvents()).isEqualTo(1000);
        assertThat(config.ackTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.maxLateness()).isEqualTo(Duration.ofDays(35));
    }

    @Test
    void durationsAndNumbersAreParsedAndBadValuesNameTheVariable() {
        var env = new java.util.HashMap<>(MINIMAL);
        env.put("METER_INGEST_ACK_TIMEOUT", "1500ms");
        env.put("METER_INGEST_API_KEY_CACHE_TTL", "PT10S");
        env.put("METER_INGEST_MAX_LATENESS", "7d");
        IngestConfig config = IngestConfig.fromEnv(env);
        assertThat(config.ackTimeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(config.apiKeyCacheTtl()).isEqualTo(Duration.ofSeconds(10));
        assertThat(config.maxLateness()).isEqualTo(Duration.ofDays(7));

        env.put("METER_INGEST_PORT", "eighty");
        assertThatThrownBy(() -> IngestConfig.fromEnv(env)).hasMessageContaining("METER_INGEST_PORT");
        env.remove("METER_INGEST_PORT");
        env.put("METER_INGEST_ACK_TIMEOUT", "soon");
        assertThatThrownBy(() -> IngestConfig.fromEnv(env)).hasMessageContaining("METER_INGEST_ACK_TIMEOUT");
        assertThatThrownBy(() -> IngestConfig.fromEnv(Map.of())).hasMessageContaining("METER_DB_URL");
    }

    @Test
    void ingestsInFlightBoundIsItsOwnDefaultUnlessTheVariableSetsIt() {
        assertThat(IngestConfig.fromEnv(MINIMAL).httpLimits().maxInFlight()).isEqualTo(64);
        assertThat(IngestConfig.fromEnv(MINIMAL).httpLimits().maxConnections()).isEqualTo(512);
        var env = new java.util.HashMap<>(MINIMAL);
        env.put("METER_HTTP_MAX_IN_FLIGHT", "300");
        env.put("METER_HTTP_MAX_CONNECTIONS", "1000");
        assertThat(IngestConfig.fromEnv(env).httpLimits().maxInFlight()).isEqualTo(300);
        assertThat(IngestConfig.fromEnv(env).httpLimits().maxConnections()).isEqualTo(1000);
        env.put("METER_HTTP_MAX_IN_FLIGHT", "0");
        assertThatThrownBy(() -> IngestConfig.fromEnv(env)).hasMessageContaining("METER_HTTP_MAX_IN_FLIGHT");
    }

    @Test
    void secretsNeverAppearInToString() {
        String text = IngestConfig.fromEnv(MINIMAL).toString();
        assertThat(text).doesNotContain("s3cret").doesNotContain("hunter2").contains("jdbc:postgresql://db:5432/meter");
    }

    @Test
    void theProducerCannotHoldARecordLongerThanTheAckTimeout() {
        var env = new java.util.HashMap<>(MINIMAL);
        env.put("METER_INGEST_ACK_TIMEOUT", "3s");
        var producer = IngestConfig.fromEnv(env).producerProperties();
        assertThat(producer.get(ProducerConfig.ACKS_CONFIG)).isEqualTo("all");
        assertThat(producer.get(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG)).isEqualTo(true);
        assertThat(((Number) producer.get(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG)).longValue()).isEqualTo(3000);
        assertThat(((Number) producer.get(ProducerConfig.MAX_BLOCK_MS_CONFIG)).longValue()).isEqualTo(3000);
        long linger = ((Number) producer.get(ProducerConfig.LINGER_MS_CONFIG)).longValue();
        long request = ((Number) producer.get(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG)).longValue();
        assertThat(linger + request).isLessThanOrEqualTo(3000);
    }
}
