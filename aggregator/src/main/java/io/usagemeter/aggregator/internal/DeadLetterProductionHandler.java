package io.usagemeter.aggregator.internal;

import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An output that cannot be serialized sends its source record to the dead-letter topic and the
 * task continues; a failed send is not the record's fault (broker or network), so it fails the
 * task: exactly-once aborts the transaction and the thread-replacement policy retries it.
 */
public final class DeadLetterProductionHandler implements ProductionExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterProductionHandler.class);

    private DeadLetterRecords deadLetters;

    @Override
    public void configure(Map<String, ?> configs) {
        deadLetters = DeadLetterRecords.fromStreamsConfig(configs);
    }

    @Override
    public Response handleSerializationError(ErrorHandlerContext context, ProducerRecord record, Exception failure,
                                             SerializationExceptionOrigin origin) {
        LOG.warn("output for {} from {}-{}@{} could not be serialized ({}); source record sent to the dead-letter topic: {}",
                record.topic(), context.topic(), context.partition(), context.offset(), origin, failure.getMessage());
        return Response.resume(deadLetters.of("aggregator.serialization", context, failure));
    }

    @Override
    public Response handleError(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record, Exception failure) {
        return Response.fail();
    }
}
