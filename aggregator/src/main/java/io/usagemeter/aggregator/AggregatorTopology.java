package io.usagemeter.aggregator;

import io.usagemeter.aggregator.internal.DedupeMemoryMetrics;
import io.usagemeter.aggregator.internal.MonthlyUsageLedger.LedgerSettings;
import io.usagemeter.aggregator.internal.RecentEventsStore;
import io.usagemeter.aggregator.internal.StoreSerdes;
import io.usagemeter.aggregator.internal.UsageEventProcessor;
import io.usagemeter.aggregator.internal.UsageResetProcessor;
import io.usagemeter.aggregator.internal.UserPartitioner;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.serde.JsonSerde;
import io.usagemeter.schema.topics.Topic;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The aggregator's topology: usage events and usage resets, both keyed by {@code user_id} and
 * co-partitioned, update the same per-task stores, and the changed monthly summaries go to the
 * compacted summaries topic in the partition of their user, each at most once per publication interval.
 * No re-keying, so no repartition topic.
 */
public final class AggregatorTopology {

    public static final String USAGE_EVENTS_SOURCE = "usage-events-source";
    public static final String ADMIN_COMMANDS_SOURCE = "admin-commands-source";
    public static final String COUNT_USAGE_PROCESSOR = "count-usage";
    public static final String APPLY_RESETS_PROCESSOR = "apply-usage-resets";
    public static final String MERGE_SUMMARIES = "changed-summaries";
    /** Present only with {@code METER_AGGREGATOR_PUBLISH_FROM} (after a rewind): drops summaries of earlier months. */
    public static final String PUBLISH_FROM_FILTER = "summaries-from-publish-month";
    public static final String SUMMARIES_SINK = "usage-summaries-sink";

    /**
     * The dedupe memory: each user's events of the last dedupe window (of that user's own event time) with their
     * summary fields, each user's latest event time and the task's; the latest events held on the heap and stored
     * as one chunk per commit, the older ones spilled to sorted runs on disk ({@link RecentEventsStore}).
     */
    public static final String RECENT_EVENTS_STORE = "aggregator-recent-events";
    /** {@code month|user → reset_at}, the latest reset of each user's month. */
    public static final String USAGE_RESETS_STORE = "aggregator-usage-resets";
    /** {@code month|user → summary} for the months within the retention. */
    public static final String MONTHLY_SUMMARIES_STORE = "aggregator-monthly-summaries";

    private static final String[] STORES = {RECENT_EVENTS_STORE, USAGE_RESETS_STORE, MONTHLY_SUMMARIES_STORE};
    private static final Serde<Instant> INSTANT = new JsonSerde<>(Instant.class);
    private static final Duration MIN_PURGE_INTERVAL = Duration.ofMinutes(1);

    private AggregatorTopology() {
    }

    public static Topology build(AggregatorConfig config) {
        return build(config, new DedupeMemoryMetrics());
    }

    /** The live topology, its dedupe memory's figures going to {@code metrics}. */
    public static Topology build(AggregatorConfig config, DedupeMemoryMetrics metrics) {
        return build(config, true, metrics);
    }

    /**
     * The same processors and stores, for a replay: it decides exactly as the live aggregator (every
     * decision depends on the events only) and the rebuilt summaries are read from its store. Nothing
     * leaves it: no summaries topic, and no changelogs, since a replay application is never resumed (a
     * stopped replay starts again from scratch) — its state would only be written to Kafka to be deleted.
     */
    public static Topology rebuild(AggregatorConfig config) {
        return build(config, false, new DedupeMemoryMetrics());
    }

    /** {@code live}: publish the changed summaries and log the stores; otherwise neither (a replay's rebuild). */
    private static Topology build(AggregatorConfig config, boolean live, DedupeMemoryMetrics metrics) {
        StreamsBuilder builder = new StreamsBuilder(new TopologyConfig(new StreamsConfig(config.streamsProperties())));
        builder.addStateStore(RecentEventsStore.builder(RECENT_EVENTS_STORE, config.dedupeWindow(),
                config.dedupeHeapEvents(), live, metrics));
        builder.addStateStore(store(USAGE_RESETS_STORE, INSTANT, live));
        builder.addStateStore(store(MONTHLY_SUMMARIES_STORE, StoreSerdes.summaries(), live));

        LedgerSettings settings = new LedgerSettings(config.dedupeWindow(), config.retentionMonths());
        ResetHorizon horizon = new ResetHorizon(config.resetHorizonMonths());
        Duration purgeInterval = max(config.dedupeWindow().dividedBy(4), MIN_PURGE_INTERVAL);
        Duration publishInterval = live ? config.publishInterval() : null;

        KStream<MonthlySummaryKey, MonthlySummary> fromEvents = source(builder, Topics.USAGE_EVENTS, USAGE_EVENTS_SOURCE)
                .process(() -> new UsageEventProcessor(settings, purgeInterval, publishInterval),
                        Named.as(COUNT_USAGE_PROCESSOR), STORES);
        KStream<MonthlySummaryKey, MonthlySummary> fromResets =
                source(builder, Topics.ADMIN_COMMANDS, ADMIN_COMMANDS_SOURCE)
                        .process(() -> new UsageResetProcessor(settings, horizon), Named.as(APPLY_RESETS_PROCESSOR), STORES);

        if (live) {
            Topic<MonthlySummaryKey, MonthlySummary> summaries = Topics.USAGE_SUMMARIES;
            KStream<MonthlySummaryKey, MonthlySummary> changed = fromEvents.merge(fromResets, Named.as(MERGE_SUMMARIES));
            if (config.publishFrom() != null) {
                YearMonth from = config.publishFrom();
                changed = changed.filter((key, summary) -> !key.month().isBefore(from), Named.as(PUBLISH_FROM_FILTER));
            }
            changed.to(summaries.name(), Produced.with(summaries.keySerde(), summaries.valueSerde())
                    .withStreamPartitioner(new UserPartitioner())
                    .withName(SUMMARIES_SINK));
        }
        return builder.build();
    }

    private static <K, V> KStream<K, V> source(StreamsBuilder builder, Topic<K, V> topic, String name) {
        return builder.stream(topic.name(), Consumed.with(topic.keySerde(), topic.valueSerde()).withName(name));
    }

    private static <V> StoreBuilder<KeyValueStore<String, V>> store(String name, Serde<V> values, boolean logged) {
        StoreBuilder<KeyValueStore<String, V>> store =
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), Serdes.String(), values);
        if (!logged) {
            store = store.withLoggingDisabled();
        }
        // Summaries are rewritten, resets read, for every event: the cache serves them and coalesces
        // the writes of each key to one changelog record per commit.
        return store.withCachingEnabled();
    }

    private static Duration max(Duration a, Duration b) {
        return a.compareTo(b) >= 0 ? a : b;
    }
}
