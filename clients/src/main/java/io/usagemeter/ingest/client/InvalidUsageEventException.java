package io.usagemeter.ingest.client;

import io.usagemeter.schema.events.Violation;
import java.util.List;

/** The event breaks the usage event contract; it was not queued. Retrying it cannot help. */
public final class InvalidUsageEventException extends IllegalArgumentException {

    private final transient List<Violation> violations;

    public InvalidUsageEventException(String eventId, List<Violation> violations) {
        super("invalid usage event '" + eventId + "': " + violations);
        this.violations = List.copyOf(violations);
    }

    public List<Violation> violations() {
        return violations;
    }
}
