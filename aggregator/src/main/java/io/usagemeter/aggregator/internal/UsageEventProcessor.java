package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import java.time.Duration;
import java.time.Instant;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Counts usage events into monthly summaries. The changed summaries (from events and from resets)
 * are forwarded together once per publication interval, each at most once, so a user with a thousand
 * events in an interval costs one output record, not a thousand.
 */
public final class UsageEventProcessor implements Processor<String, UsageEvent, MonthlySummaryKey, MonthlySummary> {

    /** As at ingest: an event may be at most this far ahead of the time it was sent. */
    static final Duration FUTURE_TOLERANCE = Duration.ofMinutes(5);

    private final MonthlyUsageLedger.LedgerSettings settings;
    private final Duration purgeInterval;
    private final Duration publishInterval;
    private ProcessorContext<MonthlySummaryKey, MonthlySummary> context;
    private MonthlyUsageLedger ledger;

    /**
     * @param purgeInterval how much stream time passes between purges; purges never change a
     *     decision, they only bound the state, so stream time (not wall-clock) is good enough
     * @param publishInterval wall-clock time between publications of the changed summaries (the commit
     *     interval: with exactly-once nothing is visible downstream sooner anyway); null publishes nothing
     */
    public UsageEventProcessor(MonthlyUsageLedger.LedgerSettings settings, Duration purgeInterval,
                               Duration publishInterval) {
        this.settings = settings;
        this.purgeInterval = purgeInterval;
        this.publishInterval = publishInterval;
    }

    @Override
    public void init(ProcessorContext<MonthlySummaryKey, MonthlySummary> context) {
        this.context = context;
        this.ledger = new MonthlyUsageLedger(context, settings);
        context.schedule(purgeInterval, PunctuationType.STREAM_TIME, at -> ledger.purge());
        if (publishInterval != null) {
            context.schedule(publishInterval, PunctuationType.WALL_CLOCK_TIME, this::publish);
        }
    }

    @Override
    public void process(Record<String, UsageEvent> record) {
        UsageEvent event = record.value();
        if (event == null) {
            throw new IllegalArgumentException("a usage event must not be a tombstone (key " + record.key() + ")");
        }
        // The partition decides which task holds a user's usage: a mis-keyed event would be counted apart.
        if (!event.userId().toString().equals(record.key())) {
            throw new IllegalArgumentException("usage event " + event.eventId() + " is keyed by '" + record.key()
                    + "', not by its user_id " + event.userId());
        }
        // The latest event time is the clock of every decision, so one event from the far future would
        // push whole months out of the retention. The record time was bounded by the broker's clock
        // when it was appended, and it is part of the record, so this check replays the same.
        if (event.occurredAt().toEpochMilli() - record.timestamp() > FUTURE_TOLERANCE.toMillis()) {
            throw new IllegalArgumentException("usage event " + event.eventId() + " occurred at " + event.occurredAt()
                    + ", more than " + FUTURE_TOLERANCE.toMinutes() + " minutes after its record time "
                    + Instant.ofEpochMilli(record.timestamp()));
        }
        // Records produced straight to Kafka skip ingest: the same bounds, or the dead-letter topic with the reason.
        UsageEventValidation.requireWithinBounds(event);
        ledger.count(event);
    }

    /** The record time of a published summary is the task's latest event time: what it reflects. */
    private void publish(long now) {
        ledger.publish((summary, asOf) -> context.forward(new Record<>(summary.key(), summary, asOf.toEpochMilli())),
                Instant.ofEpochMilli(now));
    }
}
