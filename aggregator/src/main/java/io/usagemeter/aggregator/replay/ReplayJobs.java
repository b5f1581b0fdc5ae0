package io.usagemeter.aggregator.replay;

import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replays run in the background for the admin API: one at a time per process, each with a job id
 * whose progress and outcome can be asked for while the process lives.
 */
public final class ReplayJobs implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ReplayJobs.class);

    /** A job's view: {@code running}, {@code succeeded}, {@code failed} or {@code cancelled}. */
    public record Job(String jobId, ReplayRange range, boolean dryRun, String state, Instant startedAt,
                      ReplayProgress progress, ReplayReport report, String error) {
    }

    private final Replayer replayer;
    private final Clock clock;
    private final ExecutorService runner = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "replay-runner");
        t.setDaemon(true);
        return t;
    });
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final AtomicBoolean busy = new AtomicBoolean();
    private final AtomicBoolean closing = new AtomicBoolean();

    public ReplayJobs(Replayer replayer, Clock clock) {
        this.replayer = replayer;
        this.clock = clock;
    }

    /**
     * Plans the replay now (so a range the topics no longer hold is refused at once) and runs it in the background.
     *
     * @throws ReplayRefusedException when the log no longer holds the range, or another replay is running
     */
    public Job submit(ReplayRange range, boolean dryRun) throws ReplayRefusedException {
        if (!busy.compareAndSet(false, true)) {
            throw new ReplayRefusedException("another replay is running; wait for it to finish");
        }
        ReplayPlan plan;
        try {
            plan = replayer.plan(range, dryRun);
        } catch (ReplayRefusedException | RuntimeException e) {
            busy.set(false);
            throw e;
        }
        Job job = new Job(plan.jobId(), range, dryRun, "running", clock.instant(),
                new ReplayProgress("starting", 0, plan.recordsToRead(), 0, null), null, null);
        jobs.put(job.jobId(), job);
        runner.execute(() -> {
            try {
                ReplayReport report = replayer.run(plan, p -> update(job.jobId(), p), closing::get);
                jobs.computeIfPresent(job.jobId(), (id, j) -> new Job(id, j.range(), j.dryRun(), "succeeded",
                        j.startedAt(), j.progress(), report, null));
            } catch (ReplayCancelledException e) {
                finish(job.jobId(), "cancelled", e.getMessage());
            } catch (RuntimeException e) {
                LOG.error("replay {} failed", job.jobId(), e);
                finish(job.jobId(), "failed", e.getMessage());
            } finally {
                busy.set(false);
            }
        });
        return job;
    }

    public Optional<Job> job(String jobId) {
        return Optional.ofNullable(jobs.get(jobId));
    }

    private void update(String jobId, ReplayProgress progress) {
        jobs.computeIfPresent(jobId, (id, j) -> new Job(id, j.range(), j.dryRun(), j.state(), j.startedAt(), progress,
                null, null));
    }

    private void finish(String jobId, String state, String error) {
        jobs.computeIfPresent(jobId, (id, j) -> new Job(id, j.range(), j.dryRun(), state, j.startedAt(), j.progress(),
                null, error));
    }

    /** Stops a running replay (it cleans up and can be started again) and waits for it briefly. */
    @Override
    public void close() {
        closing.set(true);
        runner.shutdown();
        try {
            runner.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
