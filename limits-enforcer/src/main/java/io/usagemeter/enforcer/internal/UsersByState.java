package io.usagemeter.enforcer.internal;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.usagemeter.enforcer.EnforcerTopology;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.json.Json;
import java.time.Clock;
import java.time.Duration;
import java.time.YearMonth;
import java.util.EnumMap;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The gauge {@code meter.enforcer.users{state=ok|warning|exceeded}}: users of the limit store this instance
 * owns (active copies only, so the sum over instances counts each user once), by their state this month. A
 * user whose last usage is of an earlier month is {@code ok}: the month moved on and nothing is used yet.
 * The store is counted at most once per {@link #RECOUNT_INTERVAL}, whatever the scrape rate; while it cannot
 * be read (starting, rebalancing) the gauges keep the last count.
 */
public final class UsersByState {

    static final Duration RECOUNT_INTERVAL = Duration.ofSeconds(10);

    private final Supplier<KafkaStreams> streams;
    private final Clock clock;
    private Map<LimitStatus, Long> counts = new EnumMap<>(LimitStatus.class);
    private long countedAt;
    private boolean counted;

    private UsersByState(Supplier<KafkaStreams> streams, Clock clock) {
        this.streams = streams;
        this.clock = clock;
    }

    /** Registers one gauge per state on {@code registry}; {@code streams} may answer null until the topology runs. */
    public static void register(MeterRegistry registry, Supplier<KafkaStreams> streams, Clock clock) {
        UsersByState users = new UsersByState(streams, clock);
        for (LimitStatus state : LimitStatus.values()) {
            Gauge.builder("meter.enforcer.users", users, u -> u.count(state))
                    .description("Users of this instance's active limit store by their state this month")
                    .tag("state", Json.write(state).replace("\"", ""))
                    .strongReference(true)
                    .register(registry);
        }
    }

    private synchronized double count(LimitStatus state) {
        long now = System.nanoTime();
        if (!counted || now - countedAt >= RECOUNT_INTERVAL.toNanos()) {
            KafkaStreams running = streams.get();
            if (running != null) {
                try {
                    counts = recount(running);
                    counted = true;
                    countedAt = now;
                } catch (InvalidStateStoreException e) {
                    // Not queryable right now: keep the last count.
                }
            }
        }
        return counts.getOrDefault(state, 0L);
    }

    private Map<LimitStatus, Long> recount(KafkaStreams running) {
        YearMonth month = LimitRules.monthOf(clock.instant());
        ReadOnlyKeyValueStore<String, LimitState> store = running.store(StoreQueryParameters.fromNameAndType(
                EnforcerTopology.LIMITS_STORE, QueryableStoreTypes.<String, LimitState>keyValueStore()));
        Map<LimitStatus, Long> byState = new EnumMap<>(LimitStatus.class);
        try (KeyValueIterator<String, LimitState> all = store.all()) {
            while (all.hasNext()) {
                KeyValue<String, LimitState> entry = all.next();
                LimitStatus state = month.equals(entry.value.month()) ? entry.value.state() : LimitStatus.OK;
                byState.merge(state, 1L, Long::sum);
            }
        }
        return byState;
    }
}
