package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.streams.DeadLetterHandlers;

/** The aggregator's {@link DeadLetterHandlers.Processing} (stage {@code aggregator.processing}). */
public final class DeadLetterProcessingHandler extends DeadLetterHandlers.Processing {

    public DeadLetterProcessingHandler() {
        super("aggregator");
    }
}
