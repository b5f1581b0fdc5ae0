package io.usagemeter.kit;

import java.util.List;

/** The error body of every 4xx/5xx answer of every service: {@code {"error": ..., "details": [...]}}. */
public record ApiError(String error, List<?> details) {

    public ApiError {
        details = details == null ? List.of() : List.copyOf(details);
    }

    public static ApiError of(String error) {
        return new ApiError(error, List.of());
    }

    /** One offending request field and what is wrong with it. */
    public record FieldViolation(String field, String message) {}

    /** One bad event of a batch: its position in the request, the wire field and what is wrong. */
    public record EventViolation(int index, String field, String message) {}
}
