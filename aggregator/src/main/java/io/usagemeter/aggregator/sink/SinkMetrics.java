package io.usagemeter.aggregator.sink;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/** The sink's meters, tagged with its name. */
final class SinkMetrics {

    final DistributionSummary batchRecords;
    final Timer batchWrite;
    final Counter eventRows;
    final Counter summaryRows;
    final Counter summaryDeletes;
    final Counter userRows;
    final Counter retries;
    final Counter deadLetters;
    /** Records on the sink's partitions past its read position, as of its last poll. */
    final AtomicLong lag = new AtomicLong();
    private final MeterRegistry registry;
    private final String sink;

    SinkMetrics(MeterRegistry registry, String sink, BooleanSupplier ready) {
        this.registry = registry;
        this.sink = sink;
        batchRecords = DistributionSummary.builder("meter.sink.batch.records")
                .description("Records consumed per database transaction").tag("sink", sink).register(registry);
        batchWrite = Timer.builder("meter.sink.batch.write")
                .description("Time to write one batch and its offsets, commit included").tag("sink", sink)
                .register(registry);
        eventRows = rows("api_usage", "inserted");
        summaryRows = rows("monthly_usage_summary", "upserted");
        summaryDeletes = rows("monthly_usage_summary", "deleted");
        userRows = rows("users", "inserted");
        retries = Counter.builder("meter.sink.retries")
                .description("Failed writes or offset reads, each retried after a backoff").tag("sink", sink)
                .register(registry);
        deadLetters = Counter.builder("meter.sink.dead.letters")
                .description("Records sent to the dead-letter topic (unreadable or invalid)").tag("sink", sink)
                .register(registry);
        Gauge.builder("meter.sink.lag", lag, AtomicLong::get)
                .description("Records on the sink's partitions past its read position, as of its last poll")
                .tag("sink", sink).register(registry);
        Gauge.builder("meter.sink.ready", () -> ready.getAsBoolean() ? 1 : 0)
                .description("1 while the sink can write to PostgreSQL").tag("sink", sink).register(registry);
    }

    /** Counts records of {@code topic} whose batch was committed. */
    Counter consumed(String topic) {
        return Counter.builder("meter.sink.records.consumed")
                .description("Records consumed and committed to PostgreSQL with their offsets (a retried batch counts once)")
                .tag("sink", sink).tag("topic", topic).register(registry);
    }

    private Counter rows(String table, String operation) {
        return Counter.builder("meter.sink.rows").description("Rows changed by the sink")
                .tag("sink", sink).tag("table", table).tag("operation", operation).register(registry);
    }
}
