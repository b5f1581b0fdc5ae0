package io.usagemeter.kit;

import io.usagemeter.schema.config.MeterEnvironment;
import java.util.Map;

/**
 * The bounds every HTTP service keeps, so that no client can take more than the service can give:
 *
 * @param maxConnections open connections at most ({@code METER_HTTP_MAX_CONNECTIONS}); a connection past
 *     it is closed as soon as it is accepted, never queued
 * @param maxInFlight requests being served at once ({@code METER_HTTP_MAX_IN_FLIGHT}); a request past it is
 *     answered 503 with {@code Retry-After} at once. Health and metrics are not counted.
 * @param maxBodyBytes largest request body ({@code METER_HTTP_MAX_BODY_BYTES}; ingest has its own,
 *     {@code METER_INGEST_MAX_BODY_BYTES}); larger → 413
 */
public record HttpLimits(int maxConnections, int maxInFlight, long maxBodyBytes) {

    public static final int DEFAULT_MAX_CONNECTIONS = 512;
    public static final int DEFAULT_MAX_IN_FLIGHT = 200;
    public static final long DEFAULT_MAX_BODY_BYTES = 64 * 1024;

    public HttpLimits {
        if (maxConnections < 1) {
            throw new IllegalArgumentException("METER_HTTP_MAX_CONNECTIONS must be at least 1, was " + maxConnections);
        }
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("METER_HTTP_MAX_IN_FLIGHT must be at least 1, was " + maxInFlight);
        }
        if (maxBodyBytes < 1024) {
            throw new IllegalArgumentException("METER_HTTP_MAX_BODY_BYTES must be at least 1024, was " + maxBodyBytes);
        }
    }

    public static HttpLimits defaults() {
        return new HttpLimits(DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_BODY_BYTES);
    }

    public static HttpLimits fromEnv(Map<String, String> variables) {
        return fromEnv(variables, defaults());
    }

    /** The variables set in {@code variables}, the service's own {@code defaults} for the others. */
    public static HttpLimits fromEnv(Map<String, String> variables, HttpLimits defaults) {
        MeterEnvironment env = MeterEnvironment.of(variables);
        return new HttpLimits(
                env.positiveInt("METER_HTTP_MAX_CONNECTIONS", defaults.maxConnections()),
                env.positiveInt("METER_HTTP_MAX_IN_FLIGHT", defaults.maxInFlight()),
                env.intIn("METER_HTTP_MAX_BODY_BYTES", (int) Math.min(Integer.MAX_VALUE, defaults.maxBodyBytes()), 1024,
                        Integer.MAX_VALUE));
    }

    public HttpLimits withMaxBodyBytes(long bytes) {
        return new HttpLimits(maxConnections, maxInFlight, bytes);
    }

    public HttpLimits withMaxConnections(int connections) {
        return new HttpLimits(connections, maxInFlight, maxBodyBytes);
    }

    public HttpLimits withMaxInFlight(int requests) {
        return new HttpLimits(maxConnections, requests, maxBodyBytes);
    }
}
