package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.streams.DeadLetterHandlers;

/** The enforcer's {@link DeadLetterHandlers.Deserialization} (stage {@code enforcer.deserialization}). */
public final class DeadLetterDeserializationHandler extends DeadLetterHandlers.Deserialization {

    public DeadLetterDeserializationHandler() {
        super("enforcer");
    }
}
