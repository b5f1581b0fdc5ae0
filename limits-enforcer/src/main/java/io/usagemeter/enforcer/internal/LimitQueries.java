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
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
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

    private final KafkaStreams streams;
    private final HostInfo self;
    private final BigDecimal grace;
    private final Clock clock;
    private final HttpClient http;

    public LimitQueries(KafkaStreams streams, HostInfo self, BigDecimal grace, Clock clock) {
        this.streams = streams;
        this.self = self;
        this.grace = grace;
        this.clock = clock;
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
        return query(user, forwarded, authorization, "/v1/limits/" + user,
                (partition, allowStale) -> {
                    LimitState state = read(EnforcerTopology.LIMITS_STORE, user.toString(), partition, allowStale);
                    return explainNow(user, state, allowStale);
                });
    }

    public Outcome<MonthlySummary> usage(UUID user, YearMonth month, boolean forwarded) {
        return usage(user, month, forwarded, null);
    }

    public Outcome<MonthlySummary> usage(UUID user, YearMonth month, boolean forwarded, String authorization) {
        MonthlySummaryKey key = new MonthlySummaryKey(user, month);
        return query(user, forwarded, authorization, "/v1/usage/" + user + "?month=" + month,
                (partition, allowStale) -> {
                    MonthlySummary summary = read(EnforcerTopology.USAGE_STORE, key, partition, allowStale);
                    return summary == null ? MonthlySummary.empty(key) : summary;
                });
    }

    /** The plan's units from the global plans store (every instance holds all plans). */
    public Optional<Plan> plan(String name) {
        ReadOnlyKeyValueStore<String, Plan> plans = streams.store(StoreQueryParameters.fromNameAndType(
                EnforcerTopology.PLANS_STORE, QueryableStoreTypes.<String, Plan>keyValueStore()));
        return Optional.ofNullable(plans.get(name));
    }

    @FunctionalInterface
    private interface LocalRead<T> {
        T read(int partition, boolean allowStale);
    }

    private <T> Outcome<T> query(UUID user, boolean forwarded, String authorization, String path, LocalRead<T> local) {
        KeyQueryMetadata where;
        try {
            where = streams.queryMetadataForKey(EnforcerTopology.LIMITS_STORE, user.toString(), Serdes.String().serializer());
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
            Optional<Outcome<T>> answer = forward(active, path, authorization, failures);
            if (answer.isPresent()) {
                return answer.get();
            }
        }
        if (where.standbyHosts().contains(self) || self.equals(active)) {
            try {
                LOG.debug("answering {} from a stale copy of partition {}: {}", path, partition, failures);
                return new Outcome.Local<>(local.read(partition, true));
            } catch (InvalidStateStoreException e) {
                failures.add("own standby copy: " + e.getMessage());
            }
        }
        if (!forwarded) {
            for (HostInfo standby : where.standbyHosts()) {
                if (!standby.equals(self)) {
                    Optional<Outcome<T>> answer = forward(standby, path, authorization, failures);
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

    private <K, V> V read(String store, K key, int partition, boolean allowStale) {
        StoreQueryParameters<ReadOnlyKeyValueStore<K, V>> params = StoreQueryParameters
                .fromNameAndType(store, QueryableStoreTypes.<K, V>keyValueStore()).withPartition(partition);
        return streams.store(allowStale ? params.enableStaleStores() : params).get(key);
    }

    /**
     * The stored state as of now: the current plan units, and a fresh month (nothing used yet) when the
     * calendar moved on since the user's last event. Unknown users are free users with zero usage.
     */
    private LimitAnswer explainNow(UUID user, LimitState stored, boolean stale) {
        YearMonth now = LimitRules.monthOf(clock.instant());
        Entitlement entitlement = stored == null ? Entitlement.DEFAULT
                : new Entitlement(stored.plan(), stored.referralCount(), stored.bonusCredits());
        YearMonth month = stored == null || now.isAfter(stored.month()) ? now : stored.month();
        long used = stored != null && stored.month().equals(month) ? stored.used() : 0;
        long units = plan(entitlement.plan()).map(Plan::monthlyUnits)
                .orElse(stored == null ? 0 : stored.planUnits());
        var asOf = stored == null ? clock.instant() : stored.asOf();
        return LimitAnswer.of(LimitRules.explain(user, month, entitlement, units, used, grace, asOf), stale);
    }

}
