package io.usagemeter.schema.serde;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReplayStatus;
import io.usagemeter.schema.events.UsageEvent;
import org.apache.kafka.common.serialization.Serde;

/** The serde of every payload record; instances are stateless and shared. */
public final class EventSerdes {

    private static final UsageEventSerde USAGE_EVENT = new UsageEventSerde();
    private static final JsonSerde<ReferralEvent> REFERRAL_EVENT = new JsonSerde<>(ReferralEvent.class);
    private static final JsonSerde<AdminCommand> ADMIN_COMMAND = new JsonSerde<>(AdminCommand.class);
    private static final JsonSerde<MonthlySummaryKey> MONTHLY_SUMMARY_KEY = new JsonSerde<>(MonthlySummaryKey.class);
    private static final JsonSerde<MonthlySummary> MONTHLY_SUMMARY = new JsonSerde<>(MonthlySummary.class);
    private static final JsonSerde<LimitState> LIMIT_STATE = new JsonSerde<>(LimitState.class);
    private static final JsonSerde<LimitEvent> LIMIT_EVENT = new JsonSerde<>(LimitEvent.class);
    private static final JsonSerde<DeadLetter> DEAD_LETTER = new JsonSerde<>(DeadLetter.class);

    private static final JsonSerde<ReplayStatus> REPLAY_STATUS = new JsonSerde<>(ReplayStatus.class);

    private EventSerdes() {
    }

    /** Plain JSON, and on reading also the CloudEvents Kafka binding: see {@link UsageEventSerde}. */
    public static Serde<UsageEvent> usageEvent() {
        return USAGE_EVENT;
    }

    public static Serde<ReferralEvent> referralEvent() {
        return REFERRAL_EVENT;
    }

    public static Serde<AdminCommand> adminCommand() {
        return ADMIN_COMMAND;
    }

    public static Serde<MonthlySummaryKey> monthlySummaryKey() {
        return MONTHLY_SUMMARY_KEY;
    }

    public static Serde<MonthlySummary> monthlySummary() {
        return MONTHLY_SUMMARY;
    }

    public static Serde<LimitState> limitState() {
        return LIMIT_STATE;
    }

    public static Serde<LimitEvent> limitEvent() {
        return LIMIT_EVENT;
    }

    public static Serde<DeadLetter> deadLetter() {
        return DEAD_LETTER;
    }

    public static Serde<ReplayStatus> replayStatus() {
        return REPLAY_STATUS;
    }
}
