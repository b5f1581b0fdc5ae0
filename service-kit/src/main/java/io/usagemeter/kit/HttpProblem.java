package io.usagemeter.kit;

import java.util.List;

/**
 * A request refused with a status, a message and details, thrown from anywhere in a route and
 * answered by the kit as an {@link ApiError}. A 401 also carries {@code WWW-Authenticate: Bearer};
 * a 503 carries {@code Retry-After} unless it is not a passing state ({@link #retryable()}).
 */
public class HttpProblem extends RuntimeException {

    private final int status;
    private final transient List<?> details;
    private final boolean retryable;

    public HttpProblem(int status, String message, List<?> details, boolean retryable) {
        super(message, null, false, false);
        this.status = status;
        this.details = details == null ? List.of() : List.copyOf(details);
        this.retryable = retryable;
    }

    public HttpProblem(int status, String message, List<?> details) {
        this(status, message, details, status == 503);
    }

    public HttpProblem(int status, String message) {
        this(status, message, List.of());
    }

    /** 400 naming the field and what is wrong with it. */
    public static HttpProblem badField(String message, String field, String why) {
        return new HttpProblem(400, message, List.of(new ApiError.FieldViolation(field, why)));
    }

    public int status() {
        return status;
    }

    public List<?> details() {
        return details;
    }

    /** Whether the caller should retry later: a 503 answered with {@code Retry-After}. */
    public boolean retryable() {
        return retryable && status == 503;
    }

    public ApiError body() {
        return new ApiError(getMessage(), details);
    }
}
