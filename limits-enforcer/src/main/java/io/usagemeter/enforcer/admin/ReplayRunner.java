package io.usagemeter.enforcer.admin;

import java.time.Instant;
import java.time.YearMonth;
import java.util.Objects;
import java.util.Optional;

/**
 * What {@code POST /v1/admin/replay} and {@code GET /v1/admin/replay/{job_id}} need from a replay. The
 * rebuild itself is the aggregator's (its topology, its settings); the enforcer does not depend on it:
 * whoever builds the service supplies a runner ({@code meter enforcer} and {@code meter dev} do), and an
 * enforcer built without one answers those routes 503.
 */
public interface ReplayRunner extends AutoCloseable {

    /**
     * Plans the replay now, so a range the log no longer holds is refused at once, and runs it in the background.
     *
     * @return the job id to follow with {@link #job(String)}
     * @throws Refused when the replay cannot be done as asked (HTTP 409); nothing was changed
     * @throws InvalidRequest when a field of the request is unusable (HTTP 400 naming it)
     */
    String start(Request request) throws Refused, InvalidRequest;

    /** The job as this process knows it; empty for an id it never started. */
    Optional<JobStatus> job(String jobId);

    /** Stops a running replay (it cleans up after itself); called when the enforcer stops. */
    @Override
    void close();

    /**
     * Rebuild one calendar month (UTC), or every month from the one holding {@code from} to the current one.
     * Exactly one of the two is set.
     */
    record Request(YearMonth month, Instant from, boolean dryRun) {

        public Request {
            if ((month == null) == (from == null)) {
                throw new IllegalArgumentException("a replay rebuilds a month or from an instant, not both or neither");
            }
        }

        public static Request month(YearMonth month, boolean dryRun) {
            return new Request(Objects.requireNonNull(month, "month"), null, dryRun);
        }

        public static Request from(Instant from, boolean dryRun) {
            return new Request(null, Objects.requireNonNull(from, "from"), dryRun);
        }

        @Override
        public String toString() {
            return (month != null ? month.toString() : "from " + from) + (dryRun ? " (dry run)" : "");
        }
    }

    /**
     * A job as {@code GET /v1/admin/replay/{job_id}} shows it. {@code progress} and {@code report} are the
     * replayer's own values, written as they are by the project's one JSON mapper, so whatever the replayer
     * reports reaches the admin without this module knowing its fields.
     *
     * @param state {@code running}, {@code succeeded}, {@code failed} or {@code cancelled}
     * @param progress records read of total, rate and ETA ({@code null} before the first report)
     * @param report the outcome once {@code succeeded}, else {@code null}
     * @param error why it {@code failed} or was {@code cancelled}, else {@code null}
     */
    record JobStatus(String jobId, Months range, boolean dryRun, String state, Instant startedAt,
                     Object progress, Object report, String error) {
    }

    /** The whole months a job rebuilds, first to last (UTC). */
    record Months(YearMonth firstMonth, YearMonth lastMonth) {
    }

    /** The replay cannot be done as asked (the log no longer holds the range, or another one is running). */
    final class Refused extends Exception {
        public Refused(String message) {
            super(message);
        }
    }

    /** A request field the runner cannot use, e.g. a {@code from} in the future. */
    final class InvalidRequest extends Exception {
        private final String field;

        public InvalidRequest(String field, String message) {
            super(message);
            this.field = field;
        }

        /** The request's wire name of the field ({@code month}, {@code from}, {@code dry_run}). */
        public String field() {
            return field;
        }
    }
}
