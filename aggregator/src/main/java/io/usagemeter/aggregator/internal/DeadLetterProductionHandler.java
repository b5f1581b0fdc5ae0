package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.streams.DeadLetterHandlers;

/** The aggregator's {@link DeadLetterHandlers.Production} (stage {@code aggregator.serialization}). */
public final class DeadLetterProductionHandler extends DeadLetterHandlers.Production {

    public DeadLetterProductionHandler() {
        super("aggregator");
    }
}
