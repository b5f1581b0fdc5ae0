package io.usagemeter.cli.replay;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.replay.ReplayJobs;
import io.usagemeter.aggregator.replay.ReplayRange;
import io.usagemeter.aggregator.replay.ReplayRefusedException;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.enforcer.admin.ReplayRunner;
import io.usagemeter.schema.topics.TopicSettings;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.jooq.DSLContext;

/**
 * The enforcer's admin replays run by the aggregator's {@link Replayer}, one job at a time in the background
 * ({@link ReplayJobs}). It lives in {@code cli}, the one module that sees both, so the enforcer does not
 * depend on the aggregator.
 */
public final class AggregatorReplayRunner implements ReplayRunner {

    private final ReplayJobs jobs;
    private final Clock clock;

    public AggregatorReplayRunner(ReplayJobs jobs, Clock clock) {
        this.jobs = jobs;
        this.clock = clock;
    }

    /**
     * The replays of {@code meter enforcer} and {@code meter dev}, for {@code EnforcerService.create}: a
     * {@link #replayer} from the same variables, on the enforcer's database.
     */
    public static Function<DSLContext, ReplayRunner> fromEnv(Map<String, String> env) {
        Clock clock = Clock.systemUTC();
        return db -> new AggregatorReplayRunner(new ReplayJobs(replayer(env, db, clock), clock), clock);
    }

    /**
     * A replayer as every {@code meter} verb builds it. Replays must decide as the live aggregator does, so they
     * read the aggregator's own variables ({@code METER_AGGREGATOR_*}, {@code METER_KAFKA_*}).
     */
    public static Replayer replayer(Map<String, String> env, DSLContext db, Clock clock) {
        return new Replayer(AggregatorConfig.fromEnv(env), db, clock,
                Path.of(System.getProperty("java.io.tmpdir"), "usage-meter", "replays"),
                TopicSettings.fromEnv(env).replicationFactor());
    }

    @Override
    public String start(Request request) throws Refused, InvalidRequest {
        ReplayRange range;
        try {
            range = request.month() != null ? ReplayRange.month(request.month())
                    : ReplayRange.from(request.from(), clock.instant());
        } catch (IllegalArgumentException e) {
            throw new InvalidRequest(request.month() != null ? "month" : "from", e.getMessage());
        }
        try {
            return jobs.submit(range, request.dryRun()).jobId();
        } catch (ReplayRefusedException e) {
            throw new Refused(e.getMessage());
        }
    }

    @Override
    public Optional<JobStatus> job(String jobId) {
        return jobs.job(jobId).map(AggregatorReplayRunner::status);
    }

    /** Progress and report pass through as the replayer's own records: fields it adds reach the admin unchanged. */
    static JobStatus status(ReplayJobs.Job job) {
        return new JobStatus(job.jobId(), new Months(job.range().firstMonth(), job.range().lastMonth()), job.dryRun(),
                job.state(), job.startedAt(), job.progress(), job.report(), job.error());
    }

    @Override
    public void close() {
        jobs.close();
    }
}
