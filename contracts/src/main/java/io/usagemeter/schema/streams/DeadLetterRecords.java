package io.usagemeter.schema.streams;

import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.serde.EventSerdes;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.ErrorHandlerContext;

/**
 * Builds the records the exception handlers hand to Kafka Streams' dead-letter support
 * (KIP-1034): Streams sends them in the same transaction as the task's output and continues.
 * The value is the project's {@link DeadLetter} envelope; the headers carry the source topic,
 * partition, offset and reason under Kafka's own {@code __streams.errors.*} names, so generic
 * tooling reads them too.
 */
public final class DeadLetterRecords {

    public static final String HEADER_TOPIC = "__streams.errors.topic";
    public static final String HEADER_PARTITION = "__streams.errors.partition";
    public static final String HEADER_OFFSET = "__streams.errors.offset";
    public static final String HEADER_EXCEPTION = "__streams.errors.exception";
    public static final String HEADER_MESSAGE = "__streams.errors.message";

    private final String deadLetterTopic;

    private DeadLetterRecords(String deadLetterTopic) {
        this.deadLetterTopic = deadLetterTopic;
    }

    /** Reads the dead-letter topic from the Streams configuration the handler is configured with. */
    public static DeadLetterRecords fromStreamsConfig(Map<String, ?> configs) {
        Object topic = configs.get(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG);
        if (topic == null || topic.toString().isBlank()) {
            throw new IllegalStateException(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG + " must be set");
        }
        return new DeadLetterRecords(topic.toString());
    }

    /**
     * The record is stamped with the time it is written, not the source record's (an event's time): the
     * topic's retention counts from the record timestamp, so a dead letter of an event older than the
     * retention would be deleted as soon as its segment rolls, and {@code meter reconcile} could no longer
     * explain that event.
     */
    public List<ProducerRecord<byte[], byte[]>> of(String stage, ErrorHandlerContext context, Exception failure) {
        String reason = failure.getMessage() == null ? failure.getClass().getSimpleName() : failure.getMessage();
        Instant written = Instant.now();
        DeadLetter letter = DeadLetter.of(stage, context.topic(), context.partition(), context.offset(),
                context.sourceRawKey(), context.sourceRawValue(), reason, failure, written);
        Headers headers = new RecordHeaders()
                .add(HEADER_TOPIC, utf8(context.topic()))
                .add(HEADER_PARTITION, utf8(Integer.toString(context.partition())))
                .add(HEADER_OFFSET, utf8(Long.toString(context.offset())))
                .add(HEADER_EXCEPTION, utf8(failure.getClass().getName()))
                .add(HEADER_MESSAGE, utf8(reason));
        byte[] value = EventSerdes.deadLetter().serializer().serialize(deadLetterTopic, letter);
        return List.of(new ProducerRecord<>(deadLetterTopic, null, written.toEpochMilli(), context.sourceRawKey(),
                value, headers));
    }

    private static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }
}
