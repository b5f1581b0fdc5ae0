package io.usagemeter.schema.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * What a Kafka Streams app of the meter is told about itself, read once from its variables
 * ({@link #AGGREGATOR}, {@link #ENFORCER}), so both apps parse, default and check them the same way.
 *
 * @param applicationId {@code …_APPLICATION_ID}: consumer group and prefix of internal topics
 * @param commitInterval {@code …_COMMIT_INTERVAL} (ISO-8601, default 100 ms): with exactly-once, also the
 *     latency of what the app writes
 * @param stateDir {@code …_STATE_DIR}: the local state stores, kept across restarts
 * @param streamThreads {@code …_STREAM_THREADS} (default 1)
 * @param threadReplacements {@code …_THREAD_REPLACEMENTS} (default 3): dead stream threads replaced per
 *     {@code threadReplacementPeriod} ({@code …_THREAD_REPLACEMENT_PERIOD}, default 10 minutes) before the
 *     instance shuts down instead
 */
public record StreamsSettings(String applicationId, Duration commitInterval, Path stateDir, int streamThreads,
                              int threadReplacements, Duration threadReplacementPeriod) {

    /** The names of one app's variables. */
    public record Variables(String applicationId, String commitInterval, String stateDir, String streamThreads,
                            String threadReplacements, String threadReplacementPeriod) {
    }

    public static final Variables AGGREGATOR = new Variables("METER_AGGREGATOR_APPLICATION_ID",
            "METER_AGGREGATOR_COMMIT_INTERVAL", "METER_AGGREGATOR_STATE_DIR", "METER_AGGREGATOR_STREAM_THREADS",
            "METER_AGGREGATOR_THREAD_REPLACEMENTS", "METER_AGGREGATOR_THREAD_REPLACEMENT_PERIOD");
    public static final Variables ENFORCER = new Variables("METER_ENFORCER_APPLICATION_ID",
            "METER_ENFORCER_COMMIT_INTERVAL", "METER_ENFORCER_STATE_DIR", "METER_ENFORCER_STREAM_THREADS",
            "METER_ENFORCER_THREAD_REPLACEMENTS", "METER_ENFORCER_THREAD_REPLACEMENT_PERIOD");

    public static final Duration DEFAULT_COMMIT_INTERVAL = Duration.ofMillis(100);
    public static final int DEFAULT_STREAM_THREADS = 1;
    public static final int DEFAULT_THREAD_REPLACEMENTS = 3;
    public static final Duration DEFAULT_THREAD_REPLACEMENT_PERIOD = Duration.ofMinutes(10);

    public StreamsSettings {
        Objects.requireNonNull(stateDir, "stateDir");
        if (applicationId == null || applicationId.isBlank()) {
            throw new IllegalArgumentException("the Streams application id must not be blank");
        }
        if (commitInterval == null || commitInterval.isNegative() || commitInterval.isZero()) {
            throw new IllegalArgumentException("the commit interval must be positive, was " + commitInterval);
        }
        if (streamThreads < 1) {
            throw new IllegalArgumentException("stream threads must be at least 1, was " + streamThreads);
        }
        if (threadReplacements < 0) {
            throw new IllegalArgumentException("thread replacements must not be negative, was " + threadReplacements);
        }
        if (threadReplacementPeriod == null || threadReplacementPeriod.isNegative() || threadReplacementPeriod.isZero()) {
            throw new IllegalArgumentException("the thread replacement period must be positive, was " + threadReplacementPeriod);
        }
    }

    /**
     * The app's settings from its {@code variables}; unset ones default (the state under
     * {@code java.io.tmpdir/usage-meter/<app>}). A malformed value fails naming its variable.
     *
     * @param app the app's short name, e.g. {@code aggregator}
     */
    public static StreamsSettings from(MeterEnvironment env, Variables variables, String app, String defaultApplicationId) {
        return new StreamsSettings(
                env.string(variables.applicationId(), defaultApplicationId),
                env.isoDuration(variables.commitInterval(), DEFAULT_COMMIT_INTERVAL),
                env.path(variables.stateDir(), Path.of(System.getProperty("java.io.tmpdir"), "usage-meter", app)),
                env.positiveInt(variables.streamThreads(), DEFAULT_STREAM_THREADS),
                env.intIn(variables.threadReplacements(), DEFAULT_THREAD_REPLACEMENTS, 0, Integer.MAX_VALUE),
                env.isoDuration(variables.threadReplacementPeriod(), DEFAULT_THREAD_REPLACEMENT_PERIOD));
    }

    public StreamsSettings withApplicationId(String id) {
        return new StreamsSettings(id, commitInterval, stateDir, streamThreads, threadReplacements, threadReplacementPeriod);
    }

    public StreamsSettings withStateDir(Path dir) {
        return new StreamsSettings(applicationId, commitInterval, dir, streamThreads, threadReplacements, threadReplacementPeriod);
    }
}
