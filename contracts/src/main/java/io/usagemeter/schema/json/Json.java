package io.usagemeter.schema.json;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.usagemeter.schema.events.UsageEvent;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The one JSON configuration of the project: snake_case wire names, ISO-8601 strings for
 * instants and months, unknown properties rejected, no default typing (polymorphism is declared
 * explicitly on the types that need it).
 *
 * <p>The shared mapper is never handed out, so no caller can reconfigure it; callers use the
 * immutable {@link ObjectReader}/{@link ObjectWriter} views, or {@link #newMapper()} when a
 * framework insists on owning an {@link ObjectMapper} (e.g. Javalin's JSON mapper).
 */
public final class Json {

    private static final ObjectMapper MAPPER = newMapper();
    /**
     * Trees without the parser's duplicate-name check, which builds a hash set per JSON object
     * (one per usage event in a batch); the tree builder finds duplicates itself, for free, and
     * fails. {@link #tree(byte[])} then reparses with {@link #MAPPER} so the error is the same.
     */
    private static final ObjectReader TREE_READER = MAPPER.reader()
            .with(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

    private Json() {
    }

    /** A new mapper with the project's configuration, for frameworks that need their own instance. */
    public static ObjectMapper newMapper() {
        return newMapper(true);
    }

    /**
     * @param handWrittenSerializers whether the hot payloads use their hand-written serializers
     *     ({@link UsageEventSerializer}); {@code false} only for tests that prove the output identical
     */
    static ObjectMapper newMapper(boolean handWrittenSerializers) {
        SimpleModule serializers = new SimpleModule("usage-meter-serializers");
        if (handWrittenSerializers) {
            serializers.addSerializer(UsageEvent.class, new UsageEventSerializer());
        }
        return JsonMapper.builder()
                .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .addModule(new JavaTimeModule())
                .addModule(serializers)
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
                .disable(SerializationFeature.WRITE_DURATIONS_AS_TIMESTAMPS)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                // {"units": 1, "units": 1000} must not silently mean 1000.
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
                // "12" is not a number and 1.5 is not a count: wrong JSON types fail instead of coercing.
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .build();
    }

    public static ObjectReader reader() {
        return MAPPER.reader();
    }

    public static ObjectReader readerFor(Class<?> type) {
        return MAPPER.readerFor(type);
    }

    public static ObjectWriter writer() {
        return MAPPER.writer();
    }

    /** A writer that includes type information declared on {@code type} even for subclasses. */
    public static ObjectWriter writerFor(Class<?> type) {
        return MAPPER.writerFor(type);
    }

    /** Parses JSON text into a tree (for validation that reports every violation, not just the first). */
    public static JsonNode tree(String json) throws JsonProcessingException {
        return MAPPER.readTree(json);
    }

    /** As {@link #tree(String)}: duplicate names and trailing tokens fail, with the same messages. */
    public static JsonNode tree(byte[] json) throws IOException {
        // ObjectReader.without(STRICT_DUPLICATE_DETECTION) does not reach the parser; disabling it there does.
        try (JsonParser parser = MAPPER.getFactory().createParser(json)) {
            parser.disable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            JsonNode tree = TREE_READER.readTree(parser);
            if (tree != null) {
                return tree;
            }
        } catch (JsonProcessingException e) {
            // Malformed input (rare): the strict mapper below reports it exactly as it always did.
        }
        return MAPPER.readTree(json);
    }

    /** Serialises {@code value}; our records always serialise, so a failure is a programming error. */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("could not write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    public static <T> T read(String json, Class<T> type) throws JsonProcessingException {
        return MAPPER.readValue(json, type);
    }
}
