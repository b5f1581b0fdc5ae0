package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.ResetHorizon;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Applies usage resets from the admin commands; other commands are the enforcer's. The recomputed
 * month is published with the other changed summaries ({@link UsageEventProcessor}).
 */
public final class UsageResetProcessor implements Processor<String, AdminCommand, MonthlySummaryKey, MonthlySummary> {

    private final MonthlyUsageLedger.LedgerSettings settings;
    private final ResetHorizon horizon;
    private MonthlyUsageLedger ledger;

    public UsageResetProcessor(MonthlyUsageLedger.LedgerSettings settings, ResetHorizon horizon) {
        this.settings = settings;
        this.horizon = horizon;
    }

    @Override
    public void init(ProcessorContext<MonthlySummaryKey, MonthlySummary> context) {
        this.ledger = new MonthlyUsageLedger(context, settings);
    }

    @Override
    public void process(Record<String, AdminCommand> record) {
        if (!(record.value() instanceof AdminCommand.ResetUsage reset)) {
            return;
        }
        // Resets must reach the task that holds the user's events (co-partitioned by user_id).
        if (!reset.userId().toString().equals(record.key())) {
            throw new IllegalArgumentException("usage reset " + reset.commandId() + " is keyed by '" + record.key()
                    + "', not by its user_id " + reset.userId());
        }
        // The one horizon rule (also the admin route's and the enforcer's PostgreSQL writer's): outside it, a dead letter.
        horizon.refusal(reset).ifPresent(refusal -> {
            throw new IllegalArgumentException("usage reset " + reset.commandId() + " refused: " + refusal);
        });
        ledger.reset(reset);
    }
}
