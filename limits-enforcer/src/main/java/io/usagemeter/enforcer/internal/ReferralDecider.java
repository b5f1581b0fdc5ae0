package io.usagemeter.enforcer.internal;

import io.usagemeter.enforcer.EnforcerTopology;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides each referral where its referred user is owned (the topic is keyed by {@code referred_id}):
 * a user may be referred once, by one referrer, and never by themselves. Forwards a referral only
 * when it completes for the first time; refusals are kept with their reason and logged.
 */
public final class ReferralDecider implements Processor<String, ReferralEvent, String, ReferralEvent> {

    private static final Logger LOG = LoggerFactory.getLogger(ReferralDecider.class);

    private ProcessorContext<String, ReferralEvent> context;
    private KeyValueStore<String, ReferralEvent> referralsByReferred;
    private KeyValueStore<String, ReferralRefusal> refusals;

    @Override
    public void init(ProcessorContext<String, ReferralEvent> context) {
        this.context = context;
        this.referralsByReferred = context.getStateStore(EnforcerTopology.REFERRALS_STORE);
        this.refusals = context.getStateStore(EnforcerTopology.REFERRAL_REFUSALS_STORE);
    }

    @Override
    public void process(Record<String, ReferralEvent> record) {
        ReferralEvent referral = record.value();
        if (referral == null) {
            return;
        }
        String referred = referral.referredId().toString();
        ReferralEvent existing = referralsByReferred.get(referred);
        if (referral.selfReferral()) {
            refuse(referral, ReferralRefusal.SELF_REFERRAL);
        } else if (existing != null && !existing.referrerId().equals(referral.referrerId())) {
            refuse(referral, ReferralRefusal.ALREADY_REFERRED);
        } else if (existing != null && existing.status() == ReferralStatus.COMPLETED) {
            refuse(referral, ReferralRefusal.ALREADY_COMPLETED);
        } else {
            referralsByReferred.put(referred, referral);
            if (referral.status() == ReferralStatus.COMPLETED) {
                context.forward(record);
            }
        }
    }

    private void refuse(ReferralEvent referral, String reason) {
        refusals.put(referral.referralId(), new ReferralRefusal(referral.referralId(), referral.referrerId(),
                referral.referredId(), reason, referral.occurredAt()));
        LOG.info("referral {} refused: {} (referrer {}, referred {})", referral.referralId(), reason,
                referral.referrerId(), referral.referredId());
    }
}
