package io.usagemeter.schema.streams;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replaces a dead stream thread while failures stay within the budget ({@code replacements} per
 * {@code period}); past it the failure is not transient, and the instance shuts down so that an
 * operator (or the orchestrator's restart policy) sees it. Both Streams apps (aggregator and enforcer)
 * use it, each with its own budget.
 */
public final class ThreadReplacementPolicy implements StreamsUncaughtExceptionHandler {

    private static final Logger LOG = LoggerFactory.getLogger(ThreadReplacementPolicy.class);

    private final String app;
    private final int replacements;
    private final Duration period;
    private final Clock clock;
    private final Deque<Instant> recentFailures = new ArrayDeque<>();

    /**
     * @param app the app's name in the log lines, e.g. {@code aggregator}
     */
    public ThreadReplacementPolicy(String app, int replacements, Duration period, Clock clock) {
        this.app = app;
        this.replacements = replacements;
        this.period = period;
        this.clock = clock;
    }

    @Override
    public synchronized StreamThreadExceptionResponse handle(Throwable failure) {
        Instant now = clock.instant();
        while (!recentFailures.isEmpty() && !recentFailures.peekFirst().isAfter(now.minus(period))) {
            recentFailures.removeFirst();
        }
        recentFailures.addLast(now);
        if (recentFailures.size() <= replacements) {
            LOG.error("{}: stream thread died ({} of {} replacements allowed per {}); replacing it",
                    app, recentFailures.size(), replacements, period, failure);
            return StreamThreadExceptionResponse.REPLACE_THREAD;
        }
        LOG.error("{}: stream thread died {} times within {}: shutting the instance down", app, recentFailures.size(),
                period, failure);
        return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    }
}
