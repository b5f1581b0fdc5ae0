package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import java.math.BigDecimal;
import java.time.Instant;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Usage from the aggregator's monthly summaries. They are partitioned by {@code user_id} like every
 * other input here, so the user's stores are in this task without a repartition. A summary that
 * cannot be a user's usage (a negative total, e.g. produced straight to the topic) is refused
 * before it touches a store: the processing handler sends it to the dead-letter topic.
 */
public final class UsageSummaryProcessor implements Processor<MonthlySummaryKey, MonthlySummary, String, LimitEvent> {

    private final BigDecimal grace;
    private final LocalLimitStates held;
    private ProcessorContext<String, LimitEvent> context;
    private LimitLedger ledger;

    public UsageSummaryProcessor(BigDecimal grace, LocalLimitStates held) {
        this.grace = grace;
        this.held = held;
    }

    @Override
    public void init(ProcessorContext<String, LimitEvent> context) {
        this.context = context;
        this.ledger = new LimitLedger(context, grace, held);
    }

    @Override
    public void close() {
        if (ledger != null) {
            ledger.close();
        }
    }

    @Override
    public void process(Record<MonthlySummaryKey, MonthlySummary> record) {
        MonthlySummary summary = record.value();
        if (summary == null) {
            return;
        }
        String inconsistency = summary.inconsistency();
        if (inconsistency != null) {
            throw new IllegalArgumentException(inconsistency);
        }
        LimitEventForwarding.forward(context, record, ledger.onSummary(summary, Instant.ofEpochMilli(record.timestamp())));
    }
}
