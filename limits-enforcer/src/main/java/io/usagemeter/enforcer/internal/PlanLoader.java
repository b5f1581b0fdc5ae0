package io.usagemeter.enforcer.internal;

import io.usagemeter.enforcer.EnforcerTopology;
import io.usagemeter.enforcer.Plan;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Keeps the global plans store equal to the compacted {@code meter.plans} topic (a tombstone removes a plan), and
 * tells the read path that plans it remembered may have changed.
 */
public final class PlanLoader implements Processor<String, Plan, Void, Void> {

    private final LocalLimitStates held;
    private KeyValueStore<String, Plan> plans;

    /** @param held told of every change, after the store has it */
    public PlanLoader(LocalLimitStates held) {
        this.held = held;
    }

    @Override
    public void init(ProcessorContext<Void, Void> context) {
        this.plans = context.getStateStore(EnforcerTopology.PLANS_STORE);
    }

    @Override
    public void process(Record<String, Plan> record) {
        if (record.value() == null) {
            plans.delete(record.key());
        } else {
            plans.put(record.key(), record.value());
        }
        held.plansChanged();
    }
}
