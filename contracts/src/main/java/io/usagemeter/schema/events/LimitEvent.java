package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.time.YearMonth;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/**
 * A user's usage crossed {@code threshold} percent of the effective limit, or fell back below 80 %
 * after such a crossing ({@link Kind#RESOLVED}); each crossing is announced once and resolved once.
 *
 * <p>{@code kind} is written only for resolutions, so a crossing has exactly the wire it had before
 * the field existed, and a record without it (every older one) reads as a crossing.
 *
 * @param threshold 80 or 100 for a crossing; 80 for a resolution (usage is back below it)
 * @param used and {@code effectiveLimit}: the limit state at the moment of the event
 */
public record LimitEvent(
        UUID userId,
        YearMonth month,
        int threshold,
        long used,
        long effectiveLimit,
        Instant occurredAt,
        @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = CrossingFilter.class) Kind kind) {

    public static final int WARNING_THRESHOLD = 80;
    public static final int EXCEEDED_THRESHOLD = 100;
    private static final Set<Integer> THRESHOLDS = Set.of(WARNING_THRESHOLD, EXCEEDED_THRESHOLD);

    /** Whether usage went up through the threshold or came back below it. */
    public enum Kind {
        @JsonProperty("crossed") CROSSED,
        @JsonProperty("resolved") RESOLVED
    }

    public LimitEvent {
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(month, "month");
        Objects.requireNonNull(occurredAt, "occurred_at");
        kind = kind == null ? Kind.CROSSED : kind;
        if (!THRESHOLDS.contains(threshold)) {
            throw new IllegalArgumentException("threshold must be 80 or 100, was " + threshold);
        }
        if (kind == Kind.RESOLVED && threshold != WARNING_THRESHOLD) {
            throw new IllegalArgumentException("a resolution is always back below 80, was " + threshold);
        }
    }

    /** A crossing of {@code threshold}. */
    public LimitEvent(UUID userId, YearMonth month, int threshold, long used, long effectiveLimit, Instant occurredAt) {
        this(userId, month, threshold, used, effectiveLimit, occurredAt, Kind.CROSSED);
    }

    /** Usage is back below 80 % after a crossing (reset, credits, plan change or a new month). */
    public static LimitEvent resolved(UUID userId, YearMonth month, long used, long effectiveLimit, Instant occurredAt) {
        return new LimitEvent(userId, month, WARNING_THRESHOLD, used, effectiveLimit, occurredAt, Kind.RESOLVED);
    }

    /** Leaves {@code kind} out of crossings (Jackson omits a value this filter {@code equals}). */
    static final class CrossingFilter {
        @Override
        public boolean equals(Object value) {
            return value == null || value == Kind.CROSSED;
        }

        @Override
        public int hashCode() {
            return 0;
        }
    }
}
