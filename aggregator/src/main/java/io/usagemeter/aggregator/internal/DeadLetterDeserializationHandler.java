package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.streams.DeadLetterHandlers;

/** The aggregator's {@link DeadLetterHandlers.Deserialization} (stage {@code aggregator.deserialization}). */
public final class DeadLetterDeserializationHandler extends DeadLetterHandlers.Deserialization {

    public DeadLetterDeserializationHandler() {
        super("aggregator");
    }
}
