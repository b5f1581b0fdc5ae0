package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.streams.DeadLetterHandlers;

/** The enforcer's {@link DeadLetterHandlers.Processing} (stage {@code enforcer.processing}). */
public final class DeadLetterProcessingHandler extends DeadLetterHandlers.Processing {

    public DeadLetterProcessingHandler() {
        super("enforcer");
    }
}
