package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.Objects;

/**
 * A replay's announcement on the compacted replays topic, keyed by {@code job_id}: while a replay
 * of {@code first_month}..{@code last_month} is {@code running} and its heartbeat is fresh, limit
 * checks of those months answer {@code stale: true}. The heartbeat bounds the damage of a replay
 * killed before it could say {@code finished}.
 */
public record ReplayStatus(String jobId, YearMonth firstMonth, YearMonth lastMonth, State state,
                           Instant startedAt, Instant heartbeatAt) {

    /** How long a running replay counts without a new heartbeat. */
    public static final Duration HEARTBEAT_EXPIRY = Duration.ofSeconds(30);

    public enum State { @JsonProperty("running") RUNNING, @JsonProperty("finished") FINISHED }

    public ReplayStatus {
        Objects.requireNonNull(jobId, "job_id");
        Objects.requireNonNull(firstMonth, "first_month");
        Objects.requireNonNull(lastMonth, "last_month");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(startedAt, "started_at");
        Objects.requireNonNull(heartbeatAt, "heartbeat_at");
    }

    /** Whether, at {@code now}, this replay is rebuilding {@code month}. */
    public boolean rebuilds(YearMonth month, Instant now) {
        return state == State.RUNNING && !month.isBefore(firstMonth) && !month.isAfter(lastMonth)
                && now.isBefore(heartbeatAt.plus(HEARTBEAT_EXPIRY));
    }

    public ReplayStatus beat(Instant at) {
        return new ReplayStatus(jobId, firstMonth, lastMonth, state, startedAt, at);
    }

    public ReplayStatus finished(Instant at) {
        return new ReplayStatus(jobId, firstMonth, lastMonth, State.FINISHED, startedAt, at);
    }
}
