package io.usagemeter.ingest.internal;

import java.util.List;

/** The error body of every 4xx/5xx answer: {@code {"error": ..., "details": [...]}}. */
public record ApiError(String error, List<?> details) {

    public ApiError {
        details = details == null ? List.of() : List.copyOf(details);
    }

    /** One bad event of a request: its position in the request, the wire field and what is wrong. */
    public record EventViolation(int index, String field, String message) {}
}
