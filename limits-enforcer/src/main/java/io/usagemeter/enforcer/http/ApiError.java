package io.usagemeter.enforcer.http;

import java.util.List;

/** The error body of every 4xx/5xx answer: {@code {"error": ..., "details": [...]}} (as the ingest service's). */
public record ApiError(String error, List<?> details) {

    public ApiError {
        details = details == null ? List.of() : List.copyOf(details);
    }

    public static ApiError of(String error) {
        return new ApiError(error, List.of());
    }

    /** One offending request field and what is wrong with it. */
    public record FieldViolation(String field, String message) {}
}
