package io.usagemeter.enforcer;

import io.usagemeter.enforcer.internal.AdminCommandProcessor;
import io.usagemeter.enforcer.internal.LimitStateSerde;
import io.usagemeter.enforcer.internal.LocalLimitStates;
import io.usagemeter.enforcer.internal.PlanLoader;
import io.usagemeter.enforcer.internal.ReferralCreditProcessor;
import io.usagemeter.enforcer.internal.ReferralDecider;
import io.usagemeter.enforcer.internal.ReferralRefusal;
import io.usagemeter.enforcer.internal.UsageSummaryProcessor;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.serde.EventSerdes;
import io.usagemeter.schema.serde.JsonSerde;
import io.usagemeter.schema.topics.Topic;
import io.usagemeter.schema.topics.Topics;
import java.math.BigDecimal;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The enforcer's topology. Every input is keyed (or, for summaries, partitioned) by {@code user_id},
 * so one sub-topology holds all of a user's stores; the only re-key is the referral's, from the
 * referred user (who decides whether it counts) to the referrer (who is credited), explicit and named.
 */
public final class EnforcerTopology {

    public static final String PLANS_STORE = "enforcer-plans";
    public static final String REFERRALS_STORE = "enforcer-referrals-by-referred";
    public static final String REFERRAL_REFUSALS_STORE = "enforcer-referral-refusals";
    public static final String ENTITLEMENTS_STORE = "enforcer-entitlements";
    public static final String USAGE_STORE = "enforcer-monthly-usage";
    public static final String LIMITS_STORE = "enforcer-limit-states";
    public static final String THRESHOLDS_STORE = "enforcer-emitted-thresholds";
    public static final String APPLIED_COMMANDS_STORE = "enforcer-applied-commands";
    public static final String REFERRALS_BY_REFERRER = "enforcer-referrals-by-referrer";

    static final Serde<Entitlement> ENTITLEMENT_SERDE = new JsonSerde<>(Entitlement.class);
    static final Serde<ReferralRefusal> REFUSAL_SERDE = new JsonSerde<>(ReferralRefusal.class);

    private EnforcerTopology() {
    }

    /** @param held where the processors keep the limit states of their running tasks for the read path */
    public static Topology build(EnforcerConfig config, LocalLimitStates held) {
        return build(config.grace(), held);
    }

    /** The topology with {@code grace} as the fraction usage may exceed the limit before checks refuse. */
    public static Topology build(BigDecimal grace) {
        return build(grace, new LocalLimitStates());
    }

    /**
     * The topology with {@code grace} as the fraction usage may exceed the limit before checks refuse.
     *
     * @param held where the processors keep the limit states of their running tasks for the read path
     */
    public static Topology build(BigDecimal grace, LocalLimitStates held) {
        StreamsBuilder builder = new StreamsBuilder();

        builder.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(PLANS_STORE),
                        Serdes.String(), EnforcerTopics.PLAN_SERDE).withLoggingDisabled(),
                EnforcerTopics.PLANS.name(),
                consumed(EnforcerTopics.PLANS, "plans-source"),
                () -> new PlanLoader(held));

        builder.addStateStore(store(REFERRALS_STORE, Serdes.String(), EventSerdes.referralEvent()));
        builder.addStateStore(store(REFERRAL_REFUSALS_STORE, Serdes.String(), REFUSAL_SERDE));
        builder.addStateStore(store(ENTITLEMENTS_STORE, Serdes.String(), ENTITLEMENT_SERDE));
        builder.addStateStore(store(LIMITS_STORE, Serdes.String(), new LimitStateSerde()));
        builder.addStateStore(store(THRESHOLDS_STORE, Serdes.String(), Serdes.Integer()));
        builder.addStateStore(store(APPLIED_COMMANDS_STORE, Serdes.String(), Serdes.Long()));

        // The usage store is the summaries topic's table: restored from that compacted topic (the build
        // reuses source topics as changelogs), so the enforcer keeps no copy of every summary of its own.
        // Defined before the processors that read it.
        Topic<MonthlySummaryKey, MonthlySummary> summaries = Topics.USAGE_SUMMARIES;
        KTable<MonthlySummaryKey, MonthlySummary> usage = builder.table(summaries.name(),
                consumed(summaries, "usage-summaries-source"),
                Materialized.<MonthlySummaryKey, MonthlySummary, KeyValueStore<Bytes, byte[]>>as(USAGE_STORE)
                        .withKeySerde(summaries.keySerde()).withValueSerde(summaries.valueSerde())
                        .withCachingDisabled());

        String[] userStores = {ENTITLEMENTS_STORE, USAGE_STORE, LIMITS_STORE, THRESHOLDS_STORE};

        KStream<String, ReferralEvent> acceptedReferrals = builder
                .stream(Topics.REFERRALS.name(), consumed(Topics.REFERRALS, "referrals-source"))
                .process(ReferralDecider::new, Named.as("referral-decider"), REFERRALS_STORE, REFERRAL_REFUSALS_STORE);
        KStream<String, LimitEvent> fromReferrals = acceptedReferrals
                .selectKey((referred, referral) -> referral.referrerId().toString(), Named.as("referral-rekey-by-referrer"))
                .repartition(Repartitioned.<String, ReferralEvent>as(REFERRALS_BY_REFERRER)
                        .withKeySerde(Serdes.String()).withValueSerde(EventSerdes.referralEvent()))
                .process(() -> new ReferralCreditProcessor(grace, held), Named.as("referral-credits"), userStores);

        KStream<String, LimitEvent> fromCommands = builder
                .stream(Topics.ADMIN_COMMANDS.name(), consumed(Topics.ADMIN_COMMANDS, "admin-commands-source"))
                .process(() -> new AdminCommandProcessor(grace, held), Named.as("admin-commands"),
                        ENTITLEMENTS_STORE, USAGE_STORE, LIMITS_STORE, THRESHOLDS_STORE, APPLIED_COMMANDS_STORE);

        KStream<String, LimitEvent> fromUsage = usage.toStream(Named.as("usage-summaries-changes"))
                .process(() -> new UsageSummaryProcessor(grace, held), Named.as("usage-summaries"), userStores);

        fromUsage.merge(fromCommands, Named.as("limit-events-from-commands"))
                .merge(fromReferrals, Named.as("limit-events-from-referrals"))
                .to(Topics.LIMIT_EVENTS.name(), Produced.with(Topics.LIMIT_EVENTS.keySerde(),
                        Topics.LIMIT_EVENTS.valueSerde()).withName("limit-events-sink"));
        Properties optimizations = new Properties();
        optimizations.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.REUSE_KTABLE_SOURCE_TOPICS);
        return builder.build(optimizations);
    }

    /**
     * The topics the sub-topology holding the users' stores reads, as Kafka Streams names them for the app
     * {@code applicationId}: what locates a user's partition of {@link #LIMITS_STORE}.
     */
    public static List<String> userStoreSourceTopics(String applicationId) {
        return List.of(Topics.USAGE_SUMMARIES.name(), Topics.ADMIN_COMMANDS.name(),
                applicationId + "-" + REFERRALS_BY_REFERRER + "-repartition");
    }

    private static <K, V> Consumed<K, V> consumed(Topic<K, V> topic, String name) {
        return Consumed.with(topic.keySerde(), topic.valueSerde()).withName(name);
    }

    private static <K, V> StoreBuilder<KeyValueStore<K, V>> store(String name, Serde<K> keySerde, Serde<V> valueSerde) {
        return Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), keySerde, valueSerde);
    }
}
