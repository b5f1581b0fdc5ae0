package io.usagemeter.aggregator;

import io.usagemeter.kit.HttpLimits;
import io.usagemeter.kit.auth.PlaceholderSecrets;
import io.usagemeter.aggregator.internal.DeadLetterDeserializationHandler;
import io.usagemeter.aggregator.internal.DeadLetterProcessingHandler;
import io.usagemeter.aggregator.internal.DeadLetterProductionHandler;
import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.config.StreamsSettings;
import io.usagemeter.schema.streams.StreamsProperties;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The aggregator's settings, parsed once from {@code METER_*} variables.
 *
 * @param bootstrapServers Kafka bootstrap servers ({@code METER_KAFKA_BOOTSTRAP})
 * @param streams application id, commit interval (with exactly-once, also the output latency), state directory,
 *     stream threads and their replacement budget ({@code METER_AGGREGATOR_APPLICATION_ID}, {@code …_COMMIT_INTERVAL},
 *     {@code …_STATE_DIR}, {@code …_STREAM_THREADS}, {@code …_THREAD_REPLACEMENTS}, {@code …_THREAD_REPLACEMENT_PERIOD})
 * @param dedupeWindow how far behind the newest event time a repeated {@code event_id} is still recognised
 * @param retentionMonths calendar months (the newest included) whose summaries stay in the state store
 * @param resetHorizonMonths calendar months (the newest included) for which every counted event is kept,
 *     so that a usage reset arriving after the events it excludes can recompute the month exactly
 * @param httpPort port of {@code /metrics}, {@code /health/live} and {@code /health/ready}; 0 picks a free one
 * @param publishFrom the first month whose summaries are published, null for every month: after a rewind
 *     ({@code meter admin rewind-aggregator}) the state holds earlier months only partly (the dedupe window's
 *     lead-in, late events), and publishing them would overwrite their complete summaries downstream
 */
public record AggregatorConfig(
        String bootstrapServers,
        StreamsSettings streams,
        Duration dedupeWindow,
        int retentionMonths,
        int resetHorizonMonths,
        int httpPort,
        YearMonth publishFrom,
        HttpLimits httpLimits,
        int dedupeHeapEvents,
        Duration publishInterval) {

    public static final String DEFAULT_APPLICATION_ID = "usage-meter-aggregator";
    public static final int DEFAULT_HTTP_PORT = 8082;
    public static final int DEFAULT_DEDUPE_HEAP_EVENTS = 65_536;

    public AggregatorConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(streams, "streams");
        Objects.requireNonNull(dedupeWindow, "dedupeWindow");
        httpLimits = httpLimits == null ? HttpLimits.defaults() : httpLimits;
        publishInterval = publishInterval == null ? streams.commitInterval() : publishInterval;
        if (dedupeHeapEvents < 1) {
            throw new IllegalArgumentException("dedupe heap events must be at least 1, was " + dedupeHeapEvents);
        }
        if (publishInterval.compareTo(streams.commitInterval()) < 0) {
            throw new IllegalArgumentException("the publish interval (" + publishInterval
                    + ") must be at least the commit interval (" + streams.commitInterval() + ")");
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
    }

    /** Reads the configuration from {@code env} (normally {@link System#getenv()}), failing fast on bad values. */
    public static AggregatorConfig fromEnv(Map<String, String> env) {
        MeterEnvironment e = MeterEnvironment.of(env);
        // The sink next to the Streams app reads it: a placeholder secret stops the process here, with its name.
        PlaceholderSecrets.refuse(DatabaseSettings.PASSWORD, e.secret(DatabaseSettings.PASSWORD, null));
        return new AggregatorConfig(
                KafkaSettings.from(e).bootstrapServers(),
                StreamsSettings.from(e, StreamsSettings.AGGREGATOR, "aggregator", DEFAULT_APPLICATION_ID),
                e.isoDuration("METER_AGGREGATOR_DEDUPE_WINDOW", Duration.ofHours(48)),
                e.positiveInt("METER_AGGREGATOR_RETENTION_MONTHS", 13),
                e.positiveInt("METER_AGGREGATOR_RESET_HORIZON_MONTHS", 3),
                e.port("METER_AGGREGATOR_HTTP_PORT", DEFAULT_HTTP_PORT),
                month(e.string("METER_AGGREGATOR_PUBLISH_FROM", "")),
                HttpLimits.fromEnv(env),
                e.positiveInt("METER_AGGREGATOR_DEDUPE_HEAP_EVENTS", DEFAULT_DEDUPE_HEAP_EVENTS),
                // Unset: the commit interval.
                e.isoDuration("METER_AGGREGATOR_PUBLISH_INTERVAL", null));
    }

    public String applicationId() {
        return streams.applicationId();
    }

    public Duration commitInterval() {
        return streams.commitInterval();
    }

    public Path stateDir() {
        return streams.stateDir();
    }

    public int streamThreads() {
        return streams.streamThreads();
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
        return new AggregatorConfig(bootstrapServers, streams.withApplicationId(id), dedupeWindow, retentionMonths,
                resetHorizonMonths, httpPort, publishFrom, httpLimits, dedupeHeapEvents, publishInterval);
    }

    /** The same settings, holding at most {@code events} of the dedupe memory on the heap per task. */
    public AggregatorConfig withDedupeHeapEvents(int events) {
        return new AggregatorConfig(bootstrapServers, streams, dedupeWindow, retentionMonths, resetHorizonMonths,
                httpPort, publishFrom, httpLimits, events, publishInterval);
    }

    /** The same settings, publishing summaries of {@code month} and later only (null: every month). */
    public AggregatorConfig withPublishFrom(YearMonth month) {
        return new AggregatorConfig(bootstrapServers, streams, dedupeWindow, retentionMonths, resetHorizonMonths,
                httpPort, month, httpLimits, dedupeHeapEvents, publishInterval);
    }

    /**
     * The Kafka Streams properties, derived here and nowhere else. No default serdes: every
     * source, sink and store names its serdes from the topic registry.
     */
    public Properties streamsProperties() {
        Properties p = StreamsProperties.exactlyOnce(bootstrapServers, streams);
        p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterDeserializationHandler.class);
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProcessingHandler.class);
        p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetterProductionHandler.class);
        // Uncompressed: the stream thread's records (changed summaries, their changelog, the dedupe memory's chunks)
        // leave in small batches at every commit, and lz4 allocates two 64 KiB buffers for every batch in the
        // stream thread (docs/benchmarks.md, what bounds the aggregator); they are small, and compacted downstream.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "none");
        return p;
    }
}
