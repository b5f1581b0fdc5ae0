package io.usagemeter.enforcer.internal;

import io.usagemeter.enforcer.EnforcerTopology;
import io.usagemeter.enforcer.Entitlement;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.enforcer.Plan;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import java.io.IOException;
import java.math.BigDecimal;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.function.Function;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Interactive queries the documented way: find the user's partition and owner with
 * {@code queryMetadataForKey}; read locally with a partition-specific {@link StoreQueryParameters}
 * when this instance owns it; forward over HTTP when another does; fall back to a standby copy
 * (answer flagged stale) when the owner is restoring, rebalancing or gone; 503 when no copy answers.
 */
public final class LimitQueries {

    /** Marks a forwarded request: the receiver answers from its own copies only, so requests never loop. */
    public static final String FORWARDED_HEADER = "X-Meter-Forwarded";

    private static final Logger LOG = LoggerFactory.getLogger(LimitQueries.class);
    private static final Duration FORWARD_TIMEOUT = Duration.ofSeconds(2);
    static final int MAX_DERIVED = 200_000;
    private static final Function<UUID, String> LIMIT_PATH = user -> "/v1/limits/" + user;
    private static final int MAX_PLANS = 1_000;

    private final KafkaStreams streams;
    private final HostInfo self;
    private final BigDecimal grace;
    private final Clock clock;
    private final HttpClient http;
    private final PartitionOwners owners;
    private final LocalLimitStates held;
    /** Answers derived per user, bounded: cleared when full (simpler than an LRU, and enough to bound memory). */
    private final ConcurrentHashMap<UUID, Derived> derived = new ConcurrentHashMap<>();
    private final Map<Integer, ReadOnlyKeyValueStore<String, LimitState>> limitStores = new ConcurrentHashMap<>();
    private final Map<Integer, ReadOnlyKeyValueStore<MonthlySummaryKey, MonthlySummary>> usageStores =
            new ConcurrentHashMap<>();
    /**
     * Kafka Streams finds a partition's store under a lock its stream thread also takes, on every read: more
     * readers at once than cores only contend for it (spinning, then parking), so reads queue here instead.
     */
    private final Semaphore storeReaders = new Semaphore(Math.max(2, Runtime.getRuntime().availableProcessors()));
    /** Plans read since the last change of the plans store; none when {@code held} is not fed by the processors. */
    private volatile KnownPlans knownPlans;
    private volatile MonthSpan currentMonth;
    /** The global plans store's handle, once it could be opened. */
    private volatile ReadOnlyKeyValueStore<String, Plan> planStore;

    /** Queries that ask Kafka Streams for the partition's owners and read its stores on every request. */
    public LimitQueries(KafkaStreams streams, HostInfo self, BigDecimal grace, Clock clock) {
        this(streams, self, grace, clock, null, null);
    }

    /**
     * @param owners the partitions' owners kept between rebalances, set as {@code streams}' state listener before it
     *     started; null to ask Kafka Streams on every request
     * @param held the limit states of the partitions running here, written by {@code streams}' processors; null to
     *     read the store on every request
     */
    public LimitQueries(KafkaStreams streams, HostInfo self, BigDecimal grace, Clock clock, PartitionOwners owners,
                        LocalLimitStates held) {
        this.streams = streams;
        this.self = self;
        this.grace = grace;
        this.clock = clock;
        this.owners = owners;
        this.held = held;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    }

    /** An answer: a local value, a forwarded JSON body, or why there is none. */
    public sealed interface Outcome<T> {
        record Local<T>(T value) implements Outcome<T> {}

        record Forwarded<T>(int status, String body) implements Outcome<T> {}

        record Unavailable<T>(String reason) implements Outcome<T> {}
    }

    public Outcome<LimitAnswer> limit(UUID user, boolean forwarded) {
        return limit(user, forwarded, null);
    }

    /**
     * @param authorization the caller's {@code Authorization} header, sent along when the request is forwarded
     *     (the owner checks it as this instance did)
     */
    public Outcome<LimitAnswer> limit(UUID user, boolean forwarded, String authorization) {
        Outcome<ServedLimit> served = servedLimit(user, forwarded, authorization);
        if (served instanceof Outcome.Local<ServedLimit> local) {
            return new Outcome.Local<>(local.value().answer());
        }
        if (served instanceof Outcome.Forwarded<ServedLimit> remote) {
            return new Outcome.Forwarded<>(remote.status(), remote.body());
        }
        return new Outcome.Unavailable<>(((Outcome.Unavailable<ServedLimit>) served).reason());
    }

    /**
     * As {@link #limit(UUID, boolean, String)}, a local answer as served: its state, its stale flag and its JSON as
     * written once for them.
     */
    public Outcome<ServedLimit> servedLimit(UUID user, boolean forwarded, String authorization) {
        return query(user, forwarded, authorization, LIMIT_PATH,
                (partition, allowStale) -> {
                    LocalLimitStates.Partition running = allowStale || held == null ? null : held.running(partition);
                    if (running != null) {
                        return servedHeld(user, running, partition);
                    }
                    LimitState state = read(limitStores, EnforcerTopology.LIMITS_STORE, user.toString(), partition,
                            allowStale);
                    return servedNow(user, state, allowStale);
                });
    }

    public Outcome<MonthlySummary> usage(UUID user, YearMonth month, boolean forwarded) {
        return usage(user, month, forwarded, null);
    }

    public Outcome<MonthlySummary> usage(UUID user, YearMonth month, boolean forwarded, String authorization) {
        MonthlySummaryKey key = new MonthlySummaryKey(user, month);
        return query(user, forwarded, authorization, u -> "/v1/usage/" + u + "?month=" + month,
                (partition, allowStale) -> {
                    MonthlySummary summary = read(usageStores, EnforcerTopology.USAGE_STORE, key, partition, allowStale);
                    return summary == null ? MonthlySummary.empty(key) : summary;
                });
    }

    /**
     * The plan from the global plans store (every instance holds all plans). Remembered, when this instance's
     * processors report the store's changes, until the store changes or the app changes state.
     */
    public Optional<Plan> plan(String name) {
        if (held == null || owners == null) {
            return Optional.ofNullable(planStore().get(name));
        }
        long planChanges = held.planChanges();
        long stateChanges = owners.generation();
        KnownPlans known = knownPlans;
        if (known == null || known.planChanges() != planChanges || known.stateChanges() != stateChanges) {
            known = new KnownPlans(planChanges, stateChanges, new ConcurrentHashMap<>());
            knownPlans = known;
        }
        Optional<Plan> plan = known.byName().get(name);
        if (plan == null) {
            plan = Optional.ofNullable(planStore().get(name));
            if (known.byName().size() < MAX_PLANS) {
                known.byName().putIfAbsent(name, plan);
            }
        }
        return plan;
    }

    private ReadOnlyKeyValueStore<String, Plan> planStore() {
        ReadOnlyKeyValueStore<String, Plan> plans = planStore;
        if (plans == null) {
            plans = streams.store(StoreQueryParameters.fromNameAndType(
                    EnforcerTopology.PLANS_STORE, QueryableStoreTypes.<String, Plan>keyValueStore()));
            planStore = plans;
        }
        return plans;
    }

    /** Plans read while the plans store and the app's state were as counted (a missing plan as empty). */
    private record KnownPlans(long planChanges, long stateChanges, Map<String, Optional<Plan>> byName) {
    }

    @FunctionalInterface
    private interface LocalRead<T> {
        T read(int partition, boolean allowStale);
    }

    /**
     * @param pathOf the route's path for the user, written only when the request is forwarded or its failures logged
     */
    private <T> Outcome<T> query(UUID user, boolean forwarded, String authorization, Function<UUID, String> pathOf,
                                 LocalRead<T> local) {
        KeyQueryMetadata where;
        try {
            where = owners != null ? owners.of(user, streams) : streams.queryMetadataForKey(
                    EnforcerTopology.LIMITS_STORE, user.toString(), Serdes.String().serializer());
        } catch (IllegalStateException e) {
            return new Outcome.Unavailable<>("the enforcer is not running: " + e.getMessage());
        }
        if (where == null || where == KeyQueryMetadata.NOT_AVAILABLE) {
            return new Outcome.Unavailable<>("partition owners are not known yet (starting or rebalancing)");
        }
        int partition = where.partition();
        HostInfo active = where.activeHost();
        List<String> failures = new ArrayList<>();
        if (self.equals(active)) {
            try {
                return new Outcome.Local<>(local.read(partition, false));
            } catch (InvalidStateStoreException e) {
                failures.add("own active copy: " + e.getMessage());
            }
        } else if (!forwarded && isKnown(active)) {
            Optional<Outcome<T>> answer = forward(active, pathOf.apply(user), authorization, failures);
            if (answer.isPresent()) {
                return answer.get();
            }
        }
        if (where.standbyHosts().contains(self) || self.equals(active)) {
            try {
                if (LOG.isDebugEnabled()) {
                    LOG.debug("answering {} from a stale copy of partition {}: {}", pathOf.apply(user), partition, failures);
                }
                return new Outcome.Local<>(local.read(partition, true));
            } catch (InvalidStateStoreException e) {
                failures.add("own standby copy: " + e.getMessage());
            }
        }
        if (!forwarded) {
            for (HostInfo standby : where.standbyHosts()) {
                if (!standby.equals(self)) {
                    Optional<Outcome<T>> answer = forward(standby, pathOf.apply(user), authorization, failures);
                    if (answer.isPresent()) {
                        return answer.get();
                    }
                }
            }
        }
        return new Outcome.Unavailable<>("no instance holds a readable copy of partition " + partition
                + " right now" + (failures.isEmpty() ? "" : " (" + String.join("; ", failures) + ")"));
    }

    private static boolean isKnown(HostInfo host) {
        return host != null && host.port() > 0 && !host.equals(HostInfo.unavailable());
    }

    private <T> Optional<Outcome<T>> forward(HostInfo host, String path, String authorization, List<String> failures) {
        URI uri = URI.create("http://" + host.host() + ":" + host.port() + path);
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(FORWARD_TIMEOUT)
                    .header(FORWARDED_HEADER, self.host() + ":" + self.port());
            if (authorization != null) {
                request.header("Authorization", authorization);
            }
            HttpResponse<String> response = http.send(request.GET().build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 200) {
                return Optional.of(new Outcome.Forwarded<>(200, response.body()));
            }
            failures.add(host + " answered " + response.statusCode());
        } catch (IOException e) {
            failures.add(host + " unreachable: " + e.getClass().getSimpleName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failures.add(host + ": interrupted");
        }
        LOG.debug("forwarding {} to {} failed: {}", path, host, failures);
        return Optional.empty();
    }

    /**
     * Reads {@code key} from the partition's copy. A handle finds the partition's store on every read (through
     * Kafka Streams' live view of its threads), so it stays valid across rebalances and thread replacements
     * and is kept per partition and staleness.
     */
    private <K, V> V read(Map<Integer, ReadOnlyKeyValueStore<K, V>> handles, String store, K key, int partition,
                          boolean allowStale) {
        Integer slot = partition << 1 | (allowStale ? 1 : 0);
        ReadOnlyKeyValueStore<K, V> handle = handles.get(slot);
        if (handle == null) {
            StoreQueryParameters<ReadOnlyKeyValueStore<K, V>> params = StoreQueryParameters
                    .fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore()).withPartition(partition);
            handle = streams.store(allowStale ? params.enableStaleStores() : params);
            handles.put(slot, handle);
        }
        storeReaders.acquireUninterruptibly();
        try {
            return handle.get(key);
        } finally {
            storeReaders.release();
        }
    }

    /**
     * As {@link #servedNow}, from the copy of a partition whose task runs here; a user the copy does not hold yet
     * is read from the store once.
     */
    private ServedLimit servedHeld(UUID user, LocalLimitStates.Partition running, int partition) {
        ConcurrentHashMap<UUID, LocalLimitStates.Held> users = running.users();
        LocalLimitStates.Held held = users.get(user);
        if (held == null) {
            LimitState stored = read(limitStores, EnforcerTopology.LIMITS_STORE, user.toString(), partition, false);
            held = running.learned(users, user, stored);
        }
        LimitState stored = held.state;
        if (stored == null) {
            return servedNow(user, null, false);
        }
        YearMonth now = monthNow();
        YearMonth month = now.isAfter(stored.month()) ? now : stored.month();
        long units = plan(stored.plan()).map(Plan::monthlyUnits).orElse(stored.planUnits());
        ServedLimit served = held.served;
        if (served == null || served.limit().planUnits() != units || !served.limit().month().equals(month)) {
            served = derive(user, stored, month, units);
            held.served = served;
        }
        return served;
    }

    /**
     * The stored state as of now: the current plan units, and a fresh month (nothing used yet) when the
     * calendar moved on since the user's last event. Unknown users are free users with zero usage.
     * The answer of a stored state is derived and written once and then served until the state, the month
     * or the plan's units change; an unknown user's answer is as of now, so it is derived on every read.
     */
    private ServedLimit servedNow(UUID user, LimitState stored, boolean stale) {
        YearMonth now = monthNow();
        Entitlement entitlement = stored == null ? Entitlement.DEFAULT
                : new Entitlement(stored.plan(), stored.referralCount(), stored.bonusCredits());
        YearMonth month = stored == null || now.isAfter(stored.month()) ? now : stored.month();
        long units = plan(entitlement.plan()).map(Plan::monthlyUnits)
                .orElse(stored == null ? 0 : stored.planUnits());
        if (stored == null) {
            ServedLimit served = new ServedLimit(LimitRules.explain(user, month, entitlement, units, 0, grace,
                    clock.instant()));
            return stale ? served.stale() : served;
        }
        Derived known = derived.get(user);
        if (known == null || !known.of(stored, month, units)) {
            known = new Derived(stored, month, units, derive(user, stored, month, units));
            if (derived.size() >= MAX_DERIVED) {
                derived.clear();
            }
            derived.put(user, known);
        }
        return stale ? known.served().stale() : known.served();
    }

    /** The calendar month (UTC) of the clock's now, worked out again only when the clock leaves it. */
    private YearMonth monthNow() {
        long now = clock.millis();
        MonthSpan span = currentMonth;
        if (span == null || now < span.fromMillis() || now >= span.untilMillis()) {
            YearMonth month = LimitRules.monthOf(Instant.ofEpochMilli(now));
            span = new MonthSpan(month, month.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC).toEpochMilli(),
                    LimitRules.resetsAt(month).toEpochMilli());
            currentMonth = span;
        }
        return span.month();
    }

    private record MonthSpan(YearMonth month, long fromMillis, long untilMillis) {
    }

    /** The answer of a stored state in {@code month} (nothing used yet if the state's month is over). */
    private ServedLimit derive(UUID user, LimitState stored, YearMonth month, long units) {
        Entitlement entitlement = new Entitlement(stored.plan(), stored.referralCount(), stored.bonusCredits());
        long used = stored.month().equals(month) ? stored.used() : 0;
        return new ServedLimit(LimitRules.explain(user, month, entitlement, units, used, grace, stored.asOf()));
    }

    /** The answer served for a stored state, in the month and with the plan units it was derived for. */
    private record Derived(LimitState source, YearMonth month, long planUnits, ServedLimit served) {
        boolean of(LimitState state, YearMonth now, long units) {
            return planUnits == units && month.equals(now) && source.equals(state);
        }
    }
}
