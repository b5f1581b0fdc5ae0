package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.streams.DeadLetterHandlers;

/** The enforcer's {@link DeadLetterHandlers.Production} (stage {@code enforcer.serialization}). */
public final class DeadLetterProductionHandler extends DeadLetterHandlers.Production {

    public DeadLetterProductionHandler() {
        super("enforcer");
    }
}
