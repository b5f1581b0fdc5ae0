package io.usagemeter.ingest.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The body of {@code POST /v1/events} turned into validated usage events, all-or-nothing (see
 * {@link EventRequests}). One entry point, so the service and the codec benchmark run the same code.
 */
public final class UsageEventRequests {

    private UsageEventRequests() {}

    /**
     * @throws IngestRejection 400 for malformed JSON or any invalid event (every violation listed),
     *     413 for more than {@code maxBatch} events
     */
    public static List<UsageEvent> validate(byte[] body, RequestFormat format, int maxBatch, Instant now,
                                            Duration lateness) {
        List<JsonNode> elements = EventRequests.elements(body, format, maxBatch);
        boolean cloudEvents = format != RequestFormat.JSON;
        return EventRequests.validateAll(elements, (element, violations) -> {
            JsonNode event = cloudEvents ? CloudEvents.usageEventOf(element, violations) : element;
            if (event == null) {
                return null;
            }
            var result = UsageEventValidation.validate(event, now, lateness);
            if (result instanceof UsageEventValidation.Invalid invalid) {
                violations.addAll(invalid.violations());
                return null;
            }
            return ((UsageEventValidation.Valid) result).event();
        });
    }
}
