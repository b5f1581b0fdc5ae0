package io.usagemeter.schema.topics;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReplayStatus;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.serde.EventSerdes;
import io.usagemeter.schema.topics.Topic.CleanupPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.Serdes;

/**
 * The one place that knows topic names. The constants carry the single-broker defaults of
 * {@link TopicSettings#singleBroker()}; {@link #all(TopicSettings)} gives the same topics sized for
 * a deployment. Names and serdes never depend on settings.
 */
public final class Topics {

    /** Usage events keyed by {@code user_id} (so a user's events stay in order), record time = {@code occurred_at}. */
    public static final Topic<String, UsageEvent> USAGE_EVENTS = new Topic<>("meter.usage-events",
            Serdes.String(), EventSerdes.usageEvent(), TopicSettings.DEFAULT_PARTITIONS, CleanupPolicy.DELETE,
            TopicSettings.DEFAULT_USAGE_EVENTS_RETENTION, 1,
            Map.of(TopicConfig.MESSAGE_TIMESTAMP_TYPE_CONFIG, "CreateTime"));

    /**
     * Referral state changes keyed by {@code referred_id}: a user may be referred once, so that
     * decision has a single owner; counting per referrer is an explicit re-key downstream.
     * Kept forever: entitlements are rebuilt from it.
     */
    public static final Topic<String, ReferralEvent> REFERRALS = new Topic<>("meter.referrals",
            Serdes.String(), EventSerdes.referralEvent(), TopicSettings.DEFAULT_PARTITIONS, CleanupPolicy.DELETE,
            null, 1, Map.of());

    /** Admin commands keyed by {@code user_id}; kept forever, since resets and credits must survive replays. */
    public static final Topic<String, AdminCommand> ADMIN_COMMANDS = new Topic<>("meter.admin-commands",
            Serdes.String(), EventSerdes.adminCommand(), TopicSettings.DEFAULT_PARTITIONS, CleanupPolicy.DELETE,
            null, 1, Map.of());

    /** The latest monthly summary per (user, month): compacted. */
    public static final Topic<MonthlySummaryKey, MonthlySummary> USAGE_SUMMARIES = new Topic<>("meter.usage-summaries",
            EventSerdes.monthlySummaryKey(), EventSerdes.monthlySummary(), TopicSettings.DEFAULT_PARTITIONS,
            CleanupPolicy.COMPACT, null, 1, Map.of());

    /** 80 % and 100 % crossings keyed by {@code user_id}, for notifications. */
    public static final Topic<String, LimitEvent> LIMIT_EVENTS = new Topic<>("meter.limit-events",
            Serdes.String(), EventSerdes.limitEvent(), TopicSettings.DEFAULT_PARTITIONS, CleanupPolicy.DELETE,
            Duration.ofDays(62), 1, Map.of());

    /** Records no stage could process, keyed by their original key bytes. */
    public static final Topic<byte[], DeadLetter> DEAD_LETTER = new Topic<>("meter.dead-letter",
            Serdes.ByteArray(), EventSerdes.deadLetter(), TopicSettings.DEFAULT_PARTITIONS, CleanupPolicy.DELETE,
            Duration.ofDays(30), 1, Map.of());

    /**
     * Running and finished replays keyed by {@code job_id}: compacted, one partition, read whole by
     * every enforcer instance to mark the months being rebuilt stale. Not in {@link #all()}: its
     * partition count never follows the deployment's, so replays and the enforcer create it themselves.
     */
    public static final Topic<String, ReplayStatus> REPLAYS = new Topic<>("meter.replays",
            Serdes.String(), EventSerdes.replayStatus(), 1, CleanupPolicy.COMPACT, null, 1, Map.of());

    private static final List<Topic<?, ?>> ALL = List.of(
            USAGE_EVENTS, REFERRALS, ADMIN_COMMANDS, USAGE_SUMMARIES, LIMIT_EVENTS, DEAD_LETTER);

    private Topics() {
    }

    /** Every topic with the single-broker defaults. */
    public static List<Topic<?, ?>> all() {
        return ALL;
    }

    /** Every topic sized and made durable as {@code settings} says. */
    public static List<Topic<?, ?>> all(TopicSettings settings) {
        return ALL.stream().<Topic<?, ?>>map(topic -> sized(topic, settings)).toList();
    }

    private static <K, V> Topic<K, V> sized(Topic<K, V> topic, TopicSettings settings) {
        Topic<K, V> sized = topic.withPartitions(settings.partitions()).withMinInsyncReplicas(settings.minInsyncReplicas());
        return topic == USAGE_EVENTS ? sized.withRetention(settings.usageEventsRetention()) : sized;
    }
}
