package io.usagemeter.enforcer.internal;

import io.usagemeter.enforcer.Entitlement;
import io.usagemeter.enforcer.EnforcerTopology;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.enforcer.Plan;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.kafka.streams.processor.api.ProcessingContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.ValueAndTimestamp;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One task's view of its users: entitlements, the summaries of the current and previous month, the
 * limit state of the current month, and which thresholds were already announced. Every change goes
 * through {@link #recompute}, so the limit state always follows from the stores by {@link LimitRules}.
 */
public final class LimitLedger {

    private static final Logger LOG = LoggerFactory.getLogger(LimitLedger.class);

    private final BigDecimal grace;
    private final KeyValueStore<String, Plan> plans;
    private final KeyValueStore<String, Entitlement> entitlements;
    /** The summaries topic's table: written by Kafka Streams from the topic, only read here. */
    private final KeyValueStore<MonthlySummaryKey, ValueAndTimestamp<MonthlySummary>> usage;
    private final KeyValueStore<String, LimitState> limits;
    private final KeyValueStore<String, Integer> emittedThresholds;
    private final LocalLimitStates held;
    private final int partition;
    private final LocalLimitStates.Partition copy;

    /**
     * Called from a processor's {@code init}, when its task runs (its stores restored): the partition's copy in
     * {@code held} starts empty; {@link #close()} from the processor's {@code close} drops it.
     */
    public LimitLedger(ProcessingContext context, BigDecimal grace, LocalLimitStates held) {
        this.grace = grace;
        this.held = held;
        this.partition = context.taskId().partition();
        this.copy = held.started(partition);
        this.plans = context.getStateStore(EnforcerTopology.PLANS_STORE);
        this.entitlements = context.getStateStore(EnforcerTopology.ENTITLEMENTS_STORE);
        this.usage = context.getStateStore(EnforcerTopology.USAGE_STORE);
        this.limits = context.getStateStore(EnforcerTopology.LIMITS_STORE);
        this.emittedThresholds = context.getStateStore(EnforcerTopology.THRESHOLDS_STORE);
    }

    public Entitlement entitlement(UUID user) {
        Entitlement e = entitlements.get(user.toString());
        return e == null ? Entitlement.DEFAULT : e;
    }

    public boolean planExists(String plan) {
        return plans.get(plan) != null;
    }

    /**
     * A summary from the aggregator (resets already applied there), already in the usage table; only the
     * current month's changes the limit, older months are there for queries.
     */
    public List<LimitEvent> onSummary(MonthlySummary summary, Instant at) {
        LimitState current = limits.get(summary.userId().toString());
        YearMonth month = current == null || summary.month().isAfter(current.month()) ? summary.month() : current.month();
        if (!summary.month().equals(month)) {
            return List.of();
        }
        return recompute(summary.userId(), month, entitlement(summary.userId()), at);
    }

    /** The user's entitlement changed at {@code at}: the current month's limit follows. */
    public List<LimitEvent> onEntitlement(UUID user, Entitlement changed, Instant at) {
        entitlements.put(user.toString(), changed);
        LimitState current = limits.get(user.toString());
        YearMonth atMonth = LimitRules.monthOf(at);
        YearMonth month = current == null || atMonth.isAfter(current.month()) ? atMonth : current.month();
        return recompute(user, month, changed, at);
    }

    private List<LimitEvent> recompute(UUID user, YearMonth month, Entitlement entitlement, Instant at) {
        String key = user.toString();
        LimitState previous = limits.get(key);
        boolean armedInLastMonth = false;
        if (previous != null && month.isAfter(previous.month())) {
            armedInLastMonth = emittedThresholds.get(thresholdsKey(user, previous.month())) != null;
            emittedThresholds.delete(thresholdsKey(user, previous.month()));
            forgetMonthsBefore(user, previous.month(), month.minusMonths(1));
        }
        ValueAndTimestamp<MonthlySummary> summary = usage.get(new MonthlySummaryKey(user, month));
        long used = summary == null ? 0 : summary.value().units();
        Instant asOf = previous != null && previous.month().equals(month) && previous.asOf().isAfter(at) ? previous.asOf() : at;
        LimitState state = LimitRules.explain(user, month, entitlement, planUnits(entitlement.plan()), used, grace, asOf);
        limits.put(key, state);
        held.written(partition, state);
        if (armedInLastMonth && state.state() == LimitStatus.OK) {
            // A new month resolves last month's crossing; the new month arms afresh.
            return List.of(LimitEvent.resolved(user, month, state.used(), state.effectiveLimit(), at));
        }
        return crossedThresholds(state, at);
    }

    /**
     * One event per crossing of 80 % and of 100 %, and one when usage falls back below 80 % after a
     * crossing (reset, credits, plan change), which arms both thresholds again. The highest announced
     * threshold per user and month is kept in a changelogged store, so restarts never repeat an event.
     */
    private List<LimitEvent> crossedThresholds(LimitState state, Instant at) {
        String key = thresholdsKey(state.userId(), state.month());
        Integer emitted = emittedThresholds.get(key);
        int highest = emitted == null ? 0 : emitted;
        if (highest > 0 && state.state() == LimitStatus.OK) {
            emittedThresholds.delete(key);
            return List.of(LimitEvent.resolved(state.userId(), state.month(), state.used(), state.effectiveLimit(), at));
        }
        List<LimitEvent> events = new ArrayList<>(2);
        if (state.state() != LimitStatus.OK && highest < LimitEvent.WARNING_THRESHOLD) {
            events.add(new LimitEvent(state.userId(), state.month(), LimitEvent.WARNING_THRESHOLD,
                    state.used(), state.effectiveLimit(), at));
            highest = LimitEvent.WARNING_THRESHOLD;
        }
        if (state.state() == LimitStatus.EXCEEDED && highest < LimitEvent.EXCEEDED_THRESHOLD) {
            events.add(new LimitEvent(state.userId(), state.month(), LimitEvent.EXCEEDED_THRESHOLD,
                    state.used(), state.effectiveLimit(), at));
            highest = LimitEvent.EXCEEDED_THRESHOLD;
        }
        if (!events.isEmpty()) {
            emittedThresholds.put(key, highest);
        }
        return events;
    }

    /** Drops threshold marks of months {@code from} .. before {@code keepFrom} (summaries stay as the topic has them). */
    private void forgetMonthsBefore(UUID user, YearMonth from, YearMonth keepFrom) {
        for (YearMonth m = from.minusMonths(1); m.isBefore(keepFrom); m = m.plusMonths(1)) {
            emittedThresholds.delete(thresholdsKey(user, m));
        }
    }

    /** The processor stops (the task is suspended, closed, recycled or wiped next): the partition's copy goes. */
    public void close() {
        held.stopped(partition, copy);
    }

    private static String thresholdsKey(UUID user, YearMonth month) {
        return user + "/" + month;
    }

    private long planUnits(String plan) {
        Plan p = plans.get(plan);
        if (p == null) {
            LOG.warn("plan '{}' is not in meter.plans; counting it as 0 units", plan);
            return 0;
        }
        return p.monthlyUnits();
    }
}
