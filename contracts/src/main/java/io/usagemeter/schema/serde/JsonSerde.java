package io.usagemeter.schema.serde;

import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.util.Map;
import java.util.Objects;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * A Kafka serde for one JSON payload type, using the project's {@link Json} configuration.
 * A {@code null} value (a tombstone) maps to {@code null} bytes and back; anything that is not a
 * valid document of the type fails with a {@link SerializationException} naming the type, the
 * topic and Jackson's reason, so a deserialization handler can dead-letter it.
 *
 * <p>Stateless and thread-safe: one instance may be shared by any number of clients.
 */
public final class JsonSerde<T> implements Serde<T>, Serializer<T>, Deserializer<T> {

    private final Class<T> type;
    private final ObjectReader reader;
    private final ObjectWriter writer;

    public JsonSerde(Class<T> type) {
        this.type = Objects.requireNonNull(type, "type");
        this.reader = Json.readerFor(type);
        this.writer = Json.writerFor(type);
    }

    public Class<T> type() {
        return type;
    }

    @Override
    public byte[] serialize(String topic, T data) {
        if (data == null) {
            return null;
        }
        try {
            return writer.writeValueAsBytes(data);
        } catch (IOException e) {
            throw new SerializationException("could not serialize " + type.getSimpleName()
                    + " for topic " + topic + ": " + reason(e), e);
        }
    }

    @Override
    public T deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        if (data.length == 0) {
            throw new SerializationException("could not deserialize " + type.getSimpleName()
                    + " from topic " + topic + ": empty payload");
        }
        try {
            return reader.readValue(data);
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("could not deserialize " + type.getSimpleName()
                    + " from topic " + topic + ": " + reason(e), e);
        }
    }

    @Override
    public Serializer<T> serializer() {
        return this;
    }

    @Override
    public Deserializer<T> deserializer() {
        return this;
    }

    @Override
    public void configure(Map<String, ?> configs, boolean isKey) {
        // Configured by its type alone.
    }

    @Override
    public void close() {
        // Nothing to release; the serde may be shared, so closing one user must not break another.
    }

    @Override
    public String toString() {
        return "JsonSerde[" + type.getSimpleName() + "]";
    }

    private static String reason(Exception e) {
        if (e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe) {
            // The original message without Jackson's source excerpt, which would echo the payload.
            Throwable cause = jpe.getCause();
            String reason = jpe.getOriginalMessage();
            return cause != null && cause != jpe && cause.getMessage() != null && !reason.contains(cause.getMessage())
                    ? reason + " (" + cause.getMessage() + ")" : reason;
        }
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }
}
