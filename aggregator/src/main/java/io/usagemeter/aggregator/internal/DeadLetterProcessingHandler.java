package io.usagemeter.aggregator.internal;

import java.util.Map;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProcessingExceptionHandler;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A record whose processing fails goes to the dead-letter topic; the task continues with the next
 * one. The processors validate before they change any state, so a dead-lettered record left none.
 */
public final class DeadLetterProcessingHandler implements ProcessingExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterProcessingHandler.class);

    private DeadLetterRecords deadLetters;

    @Override
    public void configure(Map<String, ?> configs) {
        deadLetters = DeadLetterRecords.fromStreamsConfig(configs);
    }

    @Override
    public Response handleError(ErrorHandlerContext context, Record<?, ?> record, Exception failure) {
        LOG.warn("record {}-{}@{} failed in {} and was sent to the dead-letter topic: {}",
                context.topic(), context.partition(), context.offset(), context.processorNodeId(),
                failure.getMessage());
        return Response.resume(deadLetters.of("aggregator.processing", context, failure));
    }
}
