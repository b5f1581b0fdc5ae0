package io.usagemeter.aggregator;

import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.auth.PlaceholderSecrets;
import io.usagemeter.aggregator.internal.DeadLetterDeserializationHandler;
import io.usagemeter.aggregator.internal.DeadLetterProcessingHandler;
import io.usagemeter.aggregator.internal.DeadLetterProductionHandler;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The aggregator's settings, parsed once from {@code METER_*} variables.
 *
 * @param bootstrapServers Kafka bootstrap servers ({@code METER_KAFKA_BOOTSTRAP})
 * @param applicationId Kafka Streams application id: consumer group and prefix of internal topics
 * @param dedupeWindow how far behind the newest event time a repeated {@code event_id} is still recognised
 * @param retentionMonths calendar months (the newest included) whose summaries stay in the state store
 * @param resetHorizonMonths calendar months (the newest included) for which every counted event is kept,
 *     so that a usage reset arriving after the events it excludes can recompute the month exactly
 * @param commitInterval Kafka Streams commit interval (with exactly-once, also the output latency)
 * @param stateDir where the local state stores live; kept across restarts
 * @param streamThreads stream threads in this instance
 * @param threadFailures how many dead stream threads are replaced, and within which period, before the
 *     instance shuts down instead
 * @param httpPort port of {@code /metrics}, {@code /health/live} and {@code /health/ready}; 0 picks a free one
 * @param publishFrom the first month whose summaries are published, null for every month: after a rewind
 *     ({@code meter admin rewind-aggregator}) the state holds earlier months only partly (the dedupe window's
 *     lead-in, late events), and publishing them would overwrite their complete summaries downstream
 */
public record AggregatorConfig(
        String bootstrapServers,
        String applicationId,
        Duration dedupeWindow,
        int retentionMonths,
        int resetHorizonMonths,
        Duration commitInterval,
        Path stateDir,
        int streamThreads,
        ThreadFailureBudget threadFailures,
        int httpPort,
        YearMonth publishFrom,
        HttpLimits httpLimits,
        int dedupeHeapEvents,
        Duration publishInterval) {

    public static final String DEFAULT_APPLICATION_ID = "usage-meter-aggregator";
    public static final int DEFAULT_HTTP_PORT = 8082;
    public static final int DEFAULT_DEDUPE_HEAP_EVENTS = 65_536;

    /** At most {@code replacements} dead stream threads are replaced per {@code period}. */
    public record ThreadFailureBudget(int replacements, Duration period) {
        public ThreadFailureBudget {
            Objects.requireNonNull(period, "period");
            if (replacements < 0 || period.isNegative() || period.isZero()) {
                throw new IllegalArgumentException("thread failure budget must be >= 0 replacements per positive period");
            }
        }
    }

    public AggregatorConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(applicationId, "applicationId");
        Objects.requireNonNull(dedupeWindow, "dedupeWindow");
        Objects.requireNonNull(commitInterval, "commitInterval");
        Objects.requireNonNull(stateDir, "stateDir");
        Objects.requireNonNull(threadFailures, "threadFailures");
        httpLimits = httpLimits == null ? HttpLimits.defaults() : httpLimits;
        publishInterval = publishInterval == null ? commitInterval : publishInterval;
        if (dedupeHeapEvents < 1) {
            throw new IllegalArgumentException("dedupe heap events must be at least 1, was " + dedupeHeapEvents);
        }
        if (publishInterval.compareTo(commitInterval) < 0) {
            throw new IllegalArgumentException("the publish interval (" + publishInterval
                    + ") must be at least the commit interval (" + commitInterval + ")");
        }
        if (dedupeWindow.isNegative() || dedupeWindow.isZero()) {
            throw new IllegalArgumentException("dedupe window must be positive, was " + dedupeWindow);
        }
        if (retentionMonths < 1) {
            throw new IllegalArgumentException("retention must be at least 1 month, was " + retentionMonths);
        }
        if (resetHorizonMonths < 1 || resetHorizonMonths > retentionMonths) {
            throw new IllegalArgumentException("reset horizon must be between 1 and the retention ("
                    + retentionMonths + ") months, was " + resetHorizonMonths);
        }
        if (httpPort < 0 || httpPort > 65_535) {
            throw new IllegalArgumentException("HTTP port must be between 0 and 65535, was " + httpPort);
        }
        if (streamThreads < 1) {
            throw new IllegalArgumentException("stream threads must be at least 1, was " + streamThreads);
        }
    }

    /** Reads the configuration from {@code env} (normally {@link System#getenv()}), failing fast on bad values. */
    public static AggregatorConfig fromEnv(Map<String, String> env) {
        MeterEnvironment e = MeterEnvironment.of(env);
        // The sink next to the Streams app reads it: a placeholder secret stops the process here, with its name.
        PlaceholderSecrets.refuse("METER_DB_PASSWORD", env.get("METER_DB_PASSWORD"));
        return new AggregatorConfig(
                KafkaSettings.from(e).bootstrapServers(),
                e.string("METER_AGGREGATOR_APPLICATION_ID", DEFAULT_APPLICATION_ID),
                e.isoDuration("METER_AGGREGATOR_DEDUPE_WINDOW", Duration.ofHours(48)),
                e.positiveInt("METER_AGGREGATOR_RETENTION_MONTHS", 13),
                e.positiveInt("METER_AGGREGATOR_RESET_HORIZON_MONTHS", 3),
                e.isoDuration("METER_AGGREGATOR_COMMIT_INTERVAL", Duration.ofMillis(100)),
                e.path("METER_AGGREGATOR_STATE_DIR", Path.of(System.getProperty("java.io.tmpdir"), "usage-meter", "aggregator")),
                e.positiveInt("METER_AGGREGATOR_STREAM_THREADS", 1),
                new ThreadFailureBudget(
                        e.positiveInt("METER_AGGREGATOR_THREAD_REPLACEMENTS", 3),
                        e.isoDuration("METER_AGGREGATOR_THREAD_REPLACEMENT_PERIOD", Duration.ofMinutes(10))),
                e.port("METER_AGGREGATOR_HTTP_PORT", DEFAULT_HTTP_PORT),
                month(e.string("METER_AGGREGATOR_PUBLISH_FROM", "")),
                HttpLimits.fromEnv(env),
                e.positiveInt("METER_AGGREGATOR_DEDUPE_HEAP_EVENTS", DEFAULT_DEDUPE_HEAP_EVENTS),
                // Unset: the commit interval.
                e.isoDuration("METER_AGGREGATOR_PUBLISH_INTERVAL", null));
    }

    private static YearMonth month(String text) {
        if (text.isBlank()) {
            return null;
        }
        try {
            return YearMonth.parse(text.strip());
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("METER_AGGREGATOR_PUBLISH_FROM must be a month YYYY-MM, was '" + text + "'");
        }
    }

    /** A configuration for tests and the dev stack: defaults, except where Kafka and the state are and a free HTTP port. */
    public static AggregatorConfig defaults(String bootstrapServers, Path stateDir) {
        return fromEnv(Map.of("METER_KAFKA_BOOTSTRAP", bootstrapServers, "METER_AGGREGATOR_STATE_DIR", stateDir.toString(),
                "METER_AGGREGATOR_HTTP_PORT", "0"));
    }

    public AggregatorConfig withApplicationId(String id) {
        return new AggregatorConfig(bootstrapServers, id, dedupeWindow, retentionMonths, resetHorizonMonths,
                commitInterval, stateDir, streamThreads, threadFailures, httpPort, publishFrom, httpLimits, dedupeHeapEvents,
                publishInterval);
    }

    /** The same settings, holding at most {@code events} of the dedupe memory on the heap per task. */
    public AggregatorConfig withDedupeHeapEvents(int events) {
        return new AggregatorConfig(bootstrapServers, applicationId, dedupeWindow, retentionMonths, resetHorizonMonths,
                commitInterval, stateDir, streamThreads, threadFailures, httpPort, publishFrom, httpLimits, events,
                publishInterval);
    }

    /** The same settings, publishing summaries of {@code month} and later only (null: every month). */
    public AggregatorConfig withPublishFrom(YearMonth month) {
        return new AggregatorConfig(bootstrapServers, applicationId, dedupeWindow, retentionMonths, resetHorizonMonths,
                commitInterval, stateDir, streamThreads, threadFailures, httpPort, month, httpLimits, dedupeHeapEvents,
                publishInterval);
    }

    /**
     * The Kafka Streams properties, derived here and nowhere else. No default serdes: every
     * source, sink and store names its serdes from the topic registry.
     */
    public Properties streamsProperties() {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.ENSURE_EXPLICIT_INTERNAL_RESOURCE_NAMING_CONFIG, true);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitInterval.toMillis());
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, streamThreads);
        // Poison pills go to the dead-letter topic through Streams' own dead-letter support
        // (KIP-1034: handlers return the records, Streams sends them in the task's transaction)
        // with topic, partition, offset and reason in headers; processing continues.
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, Topics.DEAD_LETTER.name());
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterDeserializationHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProcessingHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProductionHandler.class);
        // A crashed instance's partitions move to another after 10 s instead of the default 45 s.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        // Uncompressed: the stream thread's records (changed summaries, their changelog, the dedupe memory's chunks)
        // leave in small batches at every commit, and lz4 allocates two 64 KiB buffers for every batch in the
        // stream thread (docs/benchmarks.md, what bounds the aggregator); they are small, and compacted downstream.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "none");
        return p;
    }
}
