package io.usagemeter.aggregator.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.junit.jupiter.api.Test;

class SinkConfigTest {

    private static final String URL = "jdbc:postgresql://db:5432/meter";

    @Test
    void defaultsAndDerivedConsumerProperties() {
        SinkConfig config = SinkConfig.fromEnvironment(Map.of(SinkConfig.DB_URL, URL));

        assertThat(config.bootstrapServers()).isEqualTo("localhost:9092");
        assertThat(config.name()).isEqualTo("meter-usage-sink");
        assertThat(config.topics()).isEqualTo(SinkTopics.standard());
        assertThat(config.maxPollRecords()).isEqualTo(5000);
        assertThat(config.retryBackoffMax()).isEqualTo(Duration.ofSeconds(30));
        var props = config.consumerProperties();
        assertThat(props.get(ConsumerConfig.ISOLATION_LEVEL_CONFIG)).isEqualTo("read_committed");
        assertThat(props.get(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG)).isEqualTo("false");
        assertThat(props.get(ConsumerConfig.GROUP_ID_CONFIG)).isEqualTo("meter-usage-sink");
        assertThat(props.get(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG)).isEqualTo("10000");
    }

    @Test
    void readsEveryVariable() {
        SinkConfig config = SinkConfig.fromEnvironment(Map.of(SinkConfig.DB_URL, URL,
                SinkConfig.KAFKA_BOOTSTRAP, "k1:9092,k2:9092", SinkConfig.SINK_NAME, "sink-b",
                SinkConfig.MAX_POLL_RECORDS, "250", SinkConfig.RETRY_BACKOFF_MAX_MS, "2000",
                SinkConfig.DB_USER, "meter", SinkConfig.DB_PASSWORD, "s3cret"));

        assertThat(config.bootstrapServers()).isEqualTo("k1:9092,k2:9092");
        assertThat(config.name()).isEqualTo("sink-b");
        assertThat(config.maxPollRecords()).isEqualTo(250);
        assertThat(config.retryBackoffMax()).isEqualTo(Duration.ofSeconds(2));
        assertThat(config.dbUser()).isEqualTo("meter");
    }

    @Test
    void failsNamingTheVariable() {
        assertThatThrownBy(() -> SinkConfig.fromEnvironment(Map.of()))
                .hasMessageStartingWith("METER_DB_URL is not set");
        assertThatThrownBy(() -> SinkConfig.fromEnvironment(Map.of(SinkConfig.DB_URL, "mysql://x")))
                .hasMessageStartingWith("METER_DB_URL must be a PostgreSQL JDBC URL");
        assertThatThrownBy(() -> SinkConfig.fromEnvironment(Map.of(SinkConfig.DB_URL, URL,
                SinkConfig.MAX_POLL_RECORDS, "many")))
                .hasMessage("METER_SINK_MAX_POLL_RECORDS must be a whole number of at least 1, was 'many'");
        assertThatThrownBy(() -> SinkConfig.fromEnvironment(Map.of(SinkConfig.DB_URL, URL,
                SinkConfig.RETRY_BACKOFF_MAX_MS, "0")))
                .hasMessage("METER_SINK_RETRY_BACKOFF_MAX_MS must be a whole number of at least 1, was '0'");
    }

    @Test
    void neverShowsThePassword() {
        String secret = "pw-" + System.nanoTime();
        SinkConfig config = SinkConfig.fromEnvironment(Map.of(
                SinkConfig.DB_URL, "jdbc:postgresql://db/meter?user=meter&password=" + secret,
                SinkConfig.DB_PASSWORD, secret));

        assertThat(config.toString()).doesNotContain(secret).contains("password=***");
        assertThat(config.maskedDbUrl()).doesNotContain(secret);
    }
}
