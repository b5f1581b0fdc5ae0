package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.serde.EventSerdes;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The limits store's values: the JSON of {@link EventSerdes#limitState()}, read back through a bounded memo of
 * the documents read recently. A user's state is read by every check between two changes of it, and decoding
 * the JSON (15 fields, two instants, a month) is most of a store read; a memo hit costs a hash and a comparison
 * of the bytes. States are immutable records, so a hit is exactly what decoding would give. The memo is cleared
 * when full (simpler than an LRU, and enough to bound memory).
 */
public final class LimitStateSerde implements Serde<LimitState>, Deserializer<LimitState> {

    static final int MAX_REMEMBERED = 50_000;

    private final Serde<LimitState> json = EventSerdes.limitState();
    private final ConcurrentHashMap<ByteBuffer, LimitState> recent = new ConcurrentHashMap<>();

    @Override
    public LimitState deserialize(String topic, byte[] data) {
        if (data == null || data.length == 0) {
            return json.deserializer().deserialize(topic, data);
        }
        LimitState known = recent.get(ByteBuffer.wrap(data));
        if (known != null) {
            return known;
        }
        LimitState state = json.deserializer().deserialize(topic, data);
        if (recent.size() >= MAX_REMEMBERED) {
            recent.clear();
        }
        recent.put(ByteBuffer.wrap(data.clone()), state);
        return state;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        // Configured by its type alone.
    }

    @Override
    public void close() {
        // Nothing to release.
    }

    @Override
    public Serializer<LimitState> serializer() {
        return json.serializer();
    }

    @Override
    public Deserializer<LimitState> deserializer() {
        return this;
    }
}
