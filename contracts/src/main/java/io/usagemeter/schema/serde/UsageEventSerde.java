package io.usagemeter.schema.serde;

import io.usagemeter.schema.events.UsageEvent;
import java.util.Map;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The serde of {@code meter.usage-events}. Writes the plain JSON usage event, as ingest and
 * {@code UsageClient} do. Reads that, and also a usage event that a producer wrote with the
 * CloudEvents Kafka protocol binding ({@code cloudevents-kafka}'s serializer), binary or
 * structured (see {@link CloudEventRecords}): Kafka Streams and consumers hand the record's
 * headers to {@link #deserialize(String, Headers, byte[])}, so every reader of the topic sees
 * the same events. A record with neither costs one pass over its (usually empty) headers.
 *
 * <p>Stateless and thread-safe, like {@link JsonSerde}.
 */
public final class UsageEventSerde implements Serde<UsageEvent>, Serializer<UsageEvent>, Deserializer<UsageEvent> {

    private final JsonSerde<UsageEvent> json = new JsonSerde<>(UsageEvent.class);

    @Override
    public byte[] serialize(String topic, UsageEvent data) {
        return json.serialize(topic, data);
    }

    /** Without headers: only the plain JSON usage event can be told. */
    @Override
    public UsageEvent deserialize(String topic, byte[] data) {
        return json.deserialize(topic, data);
    }

    @Override
    public UsageEvent deserialize(String topic, Headers headers, byte[] data) {
        if (headers == null || !CloudEventRecords.isCloudEvent(headers)) {
            return json.deserialize(topic, data);
        }
        return CloudEventRecords.usageEvent(topic, headers, data);
    }

    @Override
    public Serializer<UsageEvent> serializer() {
        return this;
    }

    @Override
    public Deserializer<UsageEvent> deserializer() {
        return this;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        // Nothing to configure.
    }

    @Override
    public void close() {
        // Shared: closing one user must not break another.
    }

    @Override
    public String toString() {
        return "UsageEventSerde[JSON, CloudEvents binary and structured]";
    }
}
