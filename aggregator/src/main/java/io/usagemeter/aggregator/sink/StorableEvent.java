package io.usagemeter.aggregator.sink;

import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import io.usagemeter.schema.events.Violation;
import io.usagemeter.schema.serde.EventSerdes;
import java.util.List;
import org.apache.kafka.common.header.Headers;

/**
 * How the sink reads one record of {@code meter.usage-events}: the event it stores in {@code api_usage},
 * or why it cannot (the reason it sends to the dead-letter topic). The replay reads the log through the
 * same rule, so it expects exactly the rows the sink writes.
 *
 * @param event the event to store, {@code null} when rejected
 * @param rejection why the record cannot be stored, {@code null} when it can
 * @param failure the exception behind an unreadable record, if any
 */
public record StorableEvent(UsageEvent event, String rejection, RuntimeException failure) {

    public boolean storable() {
        return event != null;
    }

    /** Decodes and validates the value of a record of {@code topic} that has no headers. */
    public static StorableEvent decode(String topic, byte[] value) {
        return decode(topic, null, value);
    }

    /** Decodes and validates a record of {@code topic}; its headers tell a CloudEvent in binary mode. */
    public static StorableEvent decode(String topic, Headers headers, byte[] value) {
        UsageEvent event;
        try {
            event = EventSerdes.usageEvent().deserializer().deserialize(topic, headers, value);
        } catch (RuntimeException e) {
            return new StorableEvent(null, "unreadable record: " + e.getMessage(), e);
        }
        if (event == null) {
            return new StorableEvent(null, "usage event without a value", null);
        }
        // The time rules were applied at ingest and depend on when; only the bounds the table holds matter here.
        List<Violation> violations = UsageEventValidation.checkRanges(event);
        return violations.isEmpty() ? new StorableEvent(event, null, null)
                : new StorableEvent(null, "invalid usage event: " + violations, null);
    }
}
