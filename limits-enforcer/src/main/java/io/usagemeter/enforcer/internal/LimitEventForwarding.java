package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.events.LimitEvent;
import java.util.List;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/** Forwards limit events keyed by {@code user_id} with the event time of the record that caused them. */
final class LimitEventForwarding {

    private LimitEventForwarding() {
    }

    static void forward(ProcessorContext<String, LimitEvent> context, Record<?, ?> cause, List<LimitEvent> events) {
        for (LimitEvent event : events) {
            context.forward(new Record<>(event.userId().toString(), event, cause.timestamp(), cause.headers()));
        }
    }
}
