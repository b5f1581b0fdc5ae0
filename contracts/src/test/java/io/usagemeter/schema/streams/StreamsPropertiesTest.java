package io.usagemeter.schema.streams;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.config.StreamsSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.junit.jupiter.api.Test;

/** The group settings the stream threads of both apps get, read back through Kafka Streams' own config. */
class StreamsPropertiesTest {

    private final StreamsConfig config = new StreamsConfig(StreamsProperties.exactlyOnce("localhost:9092",
            new StreamsSettings("usage-meter-test", Duration.ofMillis(100), Path.of("state"), 1, 3, Duration.ofMinutes(10))));

    private final Map<String, Object> mainConsumer = config.getMainConsumerConfigs("usage-meter-test", "client", 0);

    @Test
    void aRebalanceWaitsForAMemberThatDoesNotRejoinAtMost90SecondsNot300() {
        assertThat(mainConsumer).containsEntry(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, 90_000)
                .containsEntry(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
    }

    @Test
    void theRebalanceTimeoutOutlastsTheLongestBlockingCallOfAHealthyStreamThread() {
        long maxPollInterval = ((Number) mainConsumer.get(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG)).longValue();
        long producerMaxBlock = new ProducerConfig(withSerializers(config.getProducerConfigs("client")))
                .getLong(ProducerConfig.MAX_BLOCK_MS_CONFIG);
        long consumerApiTimeout = new ConsumerConfig(withDeserializers(mainConsumer))
                .getInt(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG);
        assertThat(maxPollInterval).isGreaterThan(producerMaxBlock).isGreaterThan(consumerApiTimeout);
    }

    @Test
    void theGroupStaysOnTheClassicProtocolSoTheEnforcersStandbyReplicasCount() {
        // Under group.protocol=streams Kafka Streams 4.4 ignores num.standby.replicas (set broker-side instead) and
        // warm-up replicas; docs/configuration.md, "Kafka Streams group settings".
        assertThat(config.getString(StreamsConfig.GROUP_PROTOCOL_CONFIG)).isEqualTo("classic");
    }

    private static Map<String, Object> withSerializers(Map<String, Object> producer) {
        var p = new HashMap<>(producer);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
        return p;
    }

    private static Map<String, Object> withDeserializers(Map<String, Object> consumer) {
        var c = new HashMap<>(consumer);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        return c;
    }
}
