package io.usagemeter.ingest.internal;

import java.util.List;

/**
 * Why a request is refused: the HTTP status, the error body, and a short reason for metrics.
 * Thrown from anywhere in request handling and turned into the answer in one place.
 */
public final class IngestRejection extends RuntimeException {

    private final int status;
    private final String reason;
    private final transient List<?> details;
    private final int events;

    public IngestRejection(int status, String reason, String message, List<?> details, int events) {
        super(message, null, false, false);
        this.status = status;
        this.reason = reason;
        this.details = details == null ? List.of() : List.copyOf(details);
        this.events = events;
    }

    public IngestRejection(int status, String reason, String message) {
        this(status, reason, message, List.of(), 0);
    }

    public int status() {
        return status;
    }

    /** Metric tag, e.g. {@code validation}, {@code unauthenticated}. */
    public String reason() {
        return reason;
    }

    public List<?> details() {
        return details;
    }

    /** How many events the refused request carried, when known (0 otherwise). */
    public int events() {
        return events;
    }

    public ApiError body() {
        return new ApiError(getMessage(), details);
    }
}
