package io.usagemeter.ingest.internal;

import io.usagemeter.kit.HttpProblem;
import java.util.List;

/**
 * Why a request is refused: the HTTP status, the error body, and a short reason for metrics.
 * Thrown from anywhere in request handling; the kit turns it into the answer.
 */
public final class IngestRejection extends HttpProblem {

    private final String reason;
    private final int events;

    public IngestRejection(int status, String reason, String message, List<?> details, int events) {
        super(status, message, details);
        this.reason = reason;
        this.events = events;
    }

    public IngestRejection(int status, String reason, String message) {
        this(status, reason, message, List.of(), 0);
    }

    /** Metric tag, e.g. {@code validation}, {@code unsupported_media_type}. */
    public String reason() {
        return reason;
    }

    /** How many events the refused request carried, when known (0 otherwise). */
    public int events() {
        return events;
    }
}
