package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Objects;
import java.util.UUID;

/**
 * One proxied API call (usage event v1). The record only guarantees presence of the required
 * fields; the contract's range and time rules live in {@link UsageEventValidation}, so a typed
 * event built in Java is validated exactly like one parsed from JSON.
 *
 * @param tokens tokens consumed, {@value #DEFAULT_TOKENS} when absent
 * @param units what the call costs against the monthly limit, {@value #DEFAULT_UNITS} when absent
 */
public record UsageEvent(
        String eventId,
        UUID userId,
        Instant occurredAt,
        Provider provider,
        String endpoint,
        String method,
        int statusCode,
        long responseTimeMs,
        long requestBytes,
        long responseBytes,
        long tokens,
        long units) {

    public static final long DEFAULT_TOKENS = 0;
    public static final long DEFAULT_UNITS = 1;

    public UsageEvent {
        Objects.requireNonNull(eventId, "event_id");
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(occurredAt, "occurred_at");
        Objects.requireNonNull(provider, "provider");
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(method, "method");
    }

    /** The JSON creator: {@code tokens} and {@code units} are optional on the wire. */
    @JsonCreator
    static UsageEvent fromJson(
            @JsonProperty(value = "event_id", required = true) String eventId,
            @JsonProperty(value = "user_id", required = true) UUID userId,
            @JsonProperty(value = "occurred_at", required = true) Instant occurredAt,
            @JsonProperty(value = "provider", required = true) Provider provider,
            @JsonProperty(value = "endpoint", required = true) String endpoint,
            @JsonProperty(value = "method", required = true) String method,
            @JsonProperty(value = "status_code", required = true) int statusCode,
            @JsonProperty(value = "response_time_ms", required = true) long responseTimeMs,
            @JsonProperty(value = "request_bytes", required = true) long requestBytes,
            @JsonProperty(value = "response_bytes", required = true) long responseBytes,
            @JsonProperty("tokens") Long tokens,
            @JsonProperty("units") Long units) {
        return new UsageEvent(eventId, userId, occurredAt, provider, endpoint, method, statusCode,
                responseTimeMs, requestBytes, responseBytes,
                tokens == null ? DEFAULT_TOKENS : tokens,
                units == null ? DEFAULT_UNITS : units);
    }

    /** The calendar month (UTC) this event counts in. */
    public YearMonth month() {
        return YearMonth.from(occurredAt.atOffset(ZoneOffset.UTC));
    }

    /** Successful calls are those answered below 400. */
    public boolean successful() {
        return statusCode < 400;
    }
}
