package io.usagemeter.schema.events;

import java.time.Instant;
import java.time.YearMonth;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/** A user's usage crossed {@code threshold} percent of the effective limit; emitted once per user, month and threshold. */
public record LimitEvent(
        UUID userId,
        YearMonth month,
        int threshold,
        long used,
        long effectiveLimit,
        Instant occurredAt) {

    public static final int WARNING_THRESHOLD = 80;
    public static final int EXCEEDED_THRESHOLD = 100;
    private static final Set<Integer> THRESHOLDS = Set.of(WARNING_THRESHOLD, EXCEEDED_THRESHOLD);

    public LimitEvent {
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(month, "month");
        Objects.requireNonNull(occurredAt, "occurred_at");
        if (!THRESHOLDS.contains(threshold)) {
            throw new IllegalArgumentException("threshold must be 80 or 100, was " + threshold);
        }
    }
}
