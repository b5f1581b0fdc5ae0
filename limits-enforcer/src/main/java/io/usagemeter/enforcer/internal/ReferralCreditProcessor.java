package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.ReferralEvent;
import java.math.BigDecimal;
import java.time.Instant;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/** Credits the referrer of a referral the {@link ReferralDecider} accepted (re-keyed by {@code referrer_id}). */
public final class ReferralCreditProcessor implements Processor<String, ReferralEvent, String, LimitEvent> {

    private final BigDecimal grace;
    private final LocalLimitStates held;
    private ProcessorContext<String, LimitEvent> context;
    private LimitLedger ledger;

    public ReferralCreditProcessor(BigDecimal grace, LocalLimitStates held) {
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
    public void process(Record<String, ReferralEvent> record) {
        ReferralEvent referral = record.value();
        if (referral == null) {
            return;
        }
        var referrer = referral.referrerId();
        LimitEventForwarding.forward(context, record, ledger.onEntitlement(referrer,
                ledger.entitlement(referrer).withCompletedReferral(), Instant.ofEpochMilli(record.timestamp())));
    }
}
