package io.usagemeter.schema.streams;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The error policy of every Streams app here: a record that cannot be read or processed, or whose
 * output cannot be serialized, goes to the dead-letter topic with the reason and the task continues;
 * a failed send is not the record's fault (broker or network), so it fails the task and exactly-once
 * retries it. Each app names its handlers (Kafka instantiates them by class) with its stage prefix,
 * e.g. {@code aggregator.processing}.
 */
public final class DeadLetterHandlers {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterHandlers.class);

    private DeadLetterHandlers() {
    }

    /** A record that cannot be read goes to the dead-letter topic; the task continues with the next one. */
    public abstract static class Deserialization implements DeserializationExceptionHandler {
        private final String stage;
        private DeadLetterRecords deadLetters;

        protected Deserialization(String app) {
            this.stage = app + ".deserialization";
        }

        @Override
        public void configure(Map<String, ?> configs) {
            deadLetters = DeadLetterRecords.fromStreamsConfig(configs);
        }

        @Override
        public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record, Exception failure) {
            LOG.warn("{}: unreadable record {}-{}@{} sent to the dead-letter topic: {}", stage,
                    record.topic(), record.partition(), record.offset(), failure.getMessage());
            return Response.resume(deadLetters.of(stage, context, failure));
        }
    }

    /**
     * A record whose processing fails goes to the dead-letter topic; the task continues with the next
     * one. The processors validate before they change any state, so a dead-lettered record left none.
     */
    public abstract static class Processing implements ProcessingExceptionHandler {
        private final String stage;
        private DeadLetterRecords deadLetters;

        protected Processing(String app) {
            this.stage = app + ".processing";
        }

        @Override
        public void configure(Map<String, ?> configs) {
            deadLetters = DeadLetterRecords.fromStreamsConfig(configs);
        }

        @Override
        public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception failure) {
            LOG.warn("{}: record {}-{}@{} failed in {} and was sent to the dead-letter topic: {}", stage,
                    context.topic(), context.partition(), context.offset(), context.processorNodeId(),
                    failure.getMessage());
            return Response.resume(deadLetters.of(stage, context, failure));
        }
    }

    /** An output that cannot be serialized sends its source record to the dead-letter topic; a failed send fails. */
    public abstract static class Production implements ProductionExceptionHandler {
        private final String stage;
        private DeadLetterRecords deadLetters;

        protected Production(String app) {
            this.stage = app + ".serialization";
        }

        @Override
        public void configure(Map<String, ?> configs) {
            deadLetters = DeadLetterRecords.fromStreamsConfig(configs);
        }

        @Override
        public Response handleSerializationError(ErrorHandlerContext context, ProducerRecord record, Exception failure,
                                                 SerializationExceptionOrigin origin) {
            LOG.warn("{}: output for {} from {}-{}@{} could not be serialized ({}); source record sent to the "
                    + "dead-letter topic: {}", stage, record.topic(), context.topic(), context.partition(),
                    context.offset(), origin, failure.getMessage());
            return Response.resume(deadLetters.of(stage, context, failure));
        }

        @Override
        public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record, Exception failure) {
            return Response.fail();
        }
    }
}
