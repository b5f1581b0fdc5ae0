package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;

class AggregatorConfigTest {

    @Test
    void defaults_follow_the_contract() {
        AggregatorConfig config = AggregatorConfig.fromEnv(Map.of());

        assertThat(config.bootstrapServers()).isEqualTo("localhost:9092");
        assertThat(config.dedupeWindow()).isEqualTo(Duration.ofHours(48));
        assertThat(config.retentionMonths()).isEqualTo(13);
        assertThat(config.resetHorizonMonths()).isEqualTo(3);
    }

    @Test
    void reads_every_variable() {
        AggregatorConfig config = AggregatorConfig.fromEnv(Map.of(
                "METER_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092",
                "METER_AGGREGATOR_DEDUPE_WINDOW", "PT72H",
                "METER_AGGREGATOR_RETENTION_MONTHS", "24",
                "METER_AGGREGATOR_RESET_HORIZON_MONTHS", "2",
                "METER_AGGREGATOR_COMMIT_INTERVAL", "PT1S",
                "METER_AGGREGATOR_STATE_DIR", "/var/lib/meter",
                "METER_AGGREGATOR_STREAM_THREADS", "4"));

        assertThat(config.dedupeWindow()).isEqualTo(Duration.ofHours(72));
        assertThat(config.retentionMonths()).isEqualTo(24);
        assertThat(config.resetHorizonMonths()).isEqualTo(2);
        Properties p = config.streamsProperties();
        assertThat(p).containsEntry(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "kafka-1:9092,kafka-2:9092")
                .containsEntry(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000L)
                .containsEntry(StreamsConfig.STATE_DIR_CONFIG, "/var/lib/meter")
                .containsEntry(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 4)
                .containsEntry(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2)
                .containsEntry(StreamsConfig.ENSURE_EXPLICIT_INTERNAL_RESOURCE_NAMING_CONFIG, true)
                .containsEntry(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, "meter.dead-letter")
                .containsEntry(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000)
                .doesNotContainKeys(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG);
    }

    @Test
    void a_bad_value_fails_naming_the_variable() {
        assertThatThrownBy(() -> AggregatorConfig.fromEnv(Map.of("METER_AGGREGATOR_DEDUPE_WINDOW", "48h")))
                .hasMessageContaining("METER_AGGREGATOR_DEDUPE_WINDOW").hasMessageContaining("48h");
        assertThatThrownBy(() -> AggregatorConfig.fromEnv(Map.of("METER_AGGREGATOR_RETENTION_MONTHS", "0")))
                .hasMessageContaining("METER_AGGREGATOR_RETENTION_MONTHS");
        assertThatThrownBy(() -> AggregatorConfig.fromEnv(Map.of("METER_AGGREGATOR_RESET_HORIZON_MONTHS", "14")))
                .hasMessageContaining("reset horizon");
    }
}
