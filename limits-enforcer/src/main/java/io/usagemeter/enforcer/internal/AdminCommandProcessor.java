package io.usagemeter.enforcer.internal;

import io.usagemeter.enforcer.EnforcerTopology;
import io.usagemeter.enforcer.Entitlement;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.LimitEvent;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plan assignments and bonus credits from admins, each applied once per command id (a retried
 * publish carries the same id). Usage resets are the aggregator's: its summaries already count
 * only events after the reset, so here a reset is only remembered as applied.
 */
public final class AdminCommandProcessor implements Processor<String, AdminCommand, String, LimitEvent> {

    private static final Logger LOG = LoggerFactory.getLogger(AdminCommandProcessor.class);

    private final BigDecimal grace;
    private final LocalLimitStates held;
    private ProcessorContext<String, LimitEvent> context;
    private LimitLedger ledger;
    private KeyValueStore<String, Long> appliedCommands;

    public AdminCommandProcessor(BigDecimal grace, LocalLimitStates held) {
        this.grace = grace;
        this.held = held;
    }

    @Override
    public void init(ProcessorContext<String, LimitEvent> context) {
        this.context = context;
        this.ledger = new LimitLedger(context, grace, held);
        this.appliedCommands = context.getStateStore(EnforcerTopology.APPLIED_COMMANDS_STORE);
    }

    @Override
    public void close() {
        if (ledger != null) {
            ledger.close();
        }
    }

    @Override
    public void process(Record<String, AdminCommand> record) {
        AdminCommand command = record.value();
        if (command == null) {
            return;
        }
        if (appliedCommands.get(command.commandId()) != null) {
            LOG.debug("admin command {} already applied", command.commandId());
            return;
        }
        appliedCommands.put(command.commandId(), record.timestamp());
        Instant at = Instant.ofEpochMilli(record.timestamp());
        Entitlement current = ledger.entitlement(command.userId());
        List<LimitEvent> events = List.of();
        if (command instanceof AdminCommand.AddBonusCredits credits) {
            events = ledger.onEntitlement(command.userId(), current.withBonusCredits(credits.amount()), at);
        } else if (command instanceof AdminCommand.SetPlan setPlan) {
            if (ledger.planExists(setPlan.plan())) {
                events = ledger.onEntitlement(command.userId(), current.withPlan(setPlan.plan()), at);
            } else {
                LOG.warn("admin command {} refused: unknown plan '{}' for user {}", command.commandId(),
                        setPlan.plan(), command.userId());
            }
        }
        LimitEventForwarding.forward(context, record, events);
    }
}
