package io.usagemeter.ingest.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.cloudevents.CloudEvent;
import io.usagemeter.schema.events.UsageCloudEvents;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import io.usagemeter.schema.events.Violation;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The body of {@code POST /v1/events} turned into validated usage events, all-or-nothing (see
 * {@link EventRequests}). One entry point, so the service and the codec benchmark run the same code.
 *
 * <p>Four forms, each ending in {@link UsageEventValidation} with the same rules and bounds: plain
 * JSON (one event or an array), and CloudEvents 1.0 in structured, batched or binary mode (see
 * {@link CloudEvents}). A JSON body with {@code ce-*} headers is binary mode.
 *
 * <p>{@link #records} is what the service publishes: a plain JSON body already in the topic's form
 * is taken as it is ({@link CanonicalBatch}); every other body, and every invalid one, is parsed,
 * validated and serialised here, and refused with every violation named.
 */
public final class UsageEventRequests {

    private UsageEventRequests() {}

    /**
     * The records to publish for {@code body}, in its order: the bytes as sent when {@link CanonicalBatch}
     * proves them canonical and valid, otherwise those of the events {@link #validate} returns.
     *
     * @throws IngestRejection as {@link #validate}
     */
    public static List<TopicRecord> records(byte[] body, RequestFormat format, Map<String, String> headers,
                                            int maxBatch, Instant now, Duration lateness) {
        if (format == RequestFormat.JSON && !CloudEvents.isBinary(headers)) {
            List<TopicRecord> records = CanonicalBatch.records(body, maxBatch, now, lateness);
            if (records != null) {
                return records;
            }
        }
        List<UsageEvent> events = validate(body, format, headers, maxBatch, now, lateness);
        List<TopicRecord> records = new ArrayList<>(events.size());
        for (UsageEvent event : events) {
            records.add(TopicRecord.of(Topics.USAGE_EVENTS, event.userId().toString(), event, event.occurredAt()));
        }
        return records;
    }

    /** A body without CloudEvents headers (the benchmark's entry point). */
    public static List<UsageEvent> validate(byte[] body, RequestFormat format, int maxBatch, Instant now,
                                            Duration lateness) {
        return validate(body, format, Map.of(), maxBatch, now, lateness);
    }

    /**
     * @param headers the request's headers, to tell a CloudEvent in binary mode
     * @throws IngestRejection 400 for malformed JSON, an invalid CloudEvent or any invalid event (every
     *     violation listed), 413 for more than {@code maxBatch} events
     */
    public static List<UsageEvent> validate(byte[] body, RequestFormat format, Map<String, String> headers,
                                            int maxBatch, Instant now, Duration lateness) {
        if (format == RequestFormat.JSON && CloudEvents.isBinary(headers)) {
            CloudEvent event = CloudEvents.binary(headers, body);
            return EventRequests.validateEach(List.of(event), (element, violations) ->
                    usageEvent(UsageCloudEvents.usageEventOf(element, violations), violations, now, lateness));
        }
        List<JsonNode> elements = EventRequests.elements(body, format, maxBatch);
        boolean cloudEvents = format != RequestFormat.JSON;
        return EventRequests.validateAll(elements, (element, violations) -> usageEvent(
                cloudEvents ? CloudEvents.usageEventOf(element, violations) : element, violations, now, lateness));
    }

    private static UsageEvent usageEvent(JsonNode event, List<Violation> violations, Instant now, Duration lateness) {
        if (event == null) {
            return null;
        }
        var result = UsageEventValidation.validate(event, now, lateness);
        if (result instanceof UsageEventValidation.Invalid invalid) {
            violations.addAll(invalid.violations());
            return null;
        }
        return ((UsageEventValidation.Valid) result).event();
    }
}
