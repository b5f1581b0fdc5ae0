package io.usagemeter.enforcer.client;

import io.micrometer.core.instrument.MeterRegistry;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * Checks users' limits against the enforcer ({@code GET /v1/limits/{user_id}}) for apps: answers
 * are cached for a short TTL; when no enforcer answers, a cached answer up to the staleness bound
 * still decides, and beyond it the fail policy does (open: allow, closed: refuse).
 *
 * <p>The enforcer reads need an API key with the scope {@code limits:read} ({@link Builder#apiKey}); a
 * refused key (401/403) counts as no answer, so the cache and then the fail policy decide, and the
 * {@code meter.limit.client.request} timer shows the status.
 *
 * <p>Needs only {@code java.net.http}, Jackson and the contracts module; Micrometer only when the app passes
 * its registry. Thread-safe.
 */
public final class LimitClient {

    public enum FailPolicy { OPEN, CLOSED }

    private final URI baseUrl;
    private final String authorization;
    private final Duration cacheTtl;
    private final Duration maxStaleness;
    private final FailPolicy failPolicy;
    private final Duration timeout;
    private final Clock clock;
    private final HttpClient http;
    private final LimitMetrics metrics;
    private final Map<UUID, Cached> cache;

    private record Cached(LimitAnswer answer, Instant fetchedAt) {}

    private LimitClient(Builder b) {
        this.baseUrl = b.baseUrl;
        this.authorization = b.apiKey == null ? null : "Bearer " + b.apiKey;
        this.cacheTtl = b.cacheTtl;
        this.maxStaleness = b.maxStaleness;
        this.failPolicy = b.failPolicy;
        this.timeout = b.timeout;
        this.clock = b.clock;
        this.metrics = b.metrics;
        this.http = HttpClient.newBuilder().connectTimeout(b.timeout).build();
        int maxEntries = b.maxCachedUsers;
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<UUID, Cached> eldest) {
                return size() > maxEntries;
            }
        };
    }

    public static Builder builder(URI enforcerUrl) {
        return new Builder(enforcerUrl);
    }

    /** The decision for {@code user}'s next call. Never throws for an unreachable enforcer: the policy decides. */
    public LimitDecision check(UUID user) {
        Objects.requireNonNull(user, "user");
        Instant now = clock.instant();
        Cached cached;
        synchronized (cache) {
            cached = cache.get(user);
        }
        if (cached != null && age(cached, now).compareTo(cacheTtl) < 0) {
            return decided(new LimitDecision(user, cached.answer().allowed(), LimitDecision.Source.CACHE, cached.answer()));
        }
        LimitAnswer fresh = fetch(user);
        if (fresh != null) {
            synchronized (cache) {
                cache.put(user, new Cached(fresh, clock.instant()));
            }
            return decided(new LimitDecision(user, fresh.allowed(), LimitDecision.Source.ENFORCER, fresh));
        }
        if (cached != null && age(cached, now).compareTo(maxStaleness) <= 0) {
            return decided(new LimitDecision(user, cached.answer().allowed(), LimitDecision.Source.STALE_CACHE, cached.answer()));
        }
        return decided(new LimitDecision(user, failPolicy == FailPolicy.OPEN, LimitDecision.Source.FAIL_POLICY, null));
    }

    private static Duration age(Cached cached, Instant now) {
        return Duration.between(cached.fetchedAt(), now);
    }

    /** The enforcer's answer, or {@code null} when it could not give one. */
    private LimitAnswer fetch(UUID user) {
        long start = System.nanoTime();
        String outcome = "error";
        try {
            HttpRequest.Builder request = HttpRequest.newBuilder(baseUrl.resolve("/v1/limits/" + user))
                    .timeout(timeout).header("Accept", "application/json");
            if (authorization != null) {
                request.header("Authorization", authorization);
            }
            HttpResponse<String> response = http.send(request.GET().build(), HttpResponse.BodyHandlers.ofString());
            outcome = Integer.toString(response.statusCode());
            if (response.statusCode() != 200) {
                return null;
            }
            return Json.read(response.body(), LimitAnswer.class);
        } catch (IOException e) {
            outcome = "unreachable";
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            outcome = "interrupted";
            return null;
        } finally {
            metrics.request(System.nanoTime() - start, outcome);
        }
    }

    private LimitDecision decided(LimitDecision decision) {
        metrics.decision(decision);
        return decision;
    }

    public static final class Builder {
        private final URI baseUrl;
        private String apiKey;
        private Duration cacheTtl = Duration.ofSeconds(1);
        private Duration maxStaleness = Duration.ofSeconds(30);
        private FailPolicy failPolicy = FailPolicy.OPEN;
        private Duration timeout = Duration.ofMillis(500);
        private int maxCachedUsers = 100_000;
        private Clock clock = Clock.systemUTC();
        private LimitMetrics metrics = LimitMetrics.NONE;

        private Builder(URI baseUrl) {
            this.baseUrl = Objects.requireNonNull(baseUrl, "enforcer URL");
        }

        /** The API key sent with every check; it needs the scope {@code limits:read}. Never logged. */
        public Builder apiKey(String key) {
            this.apiKey = Objects.requireNonNull(key, "API key");
            return this;
        }

        /** How long an answer is reused without asking (default 1 s). */
        public Builder cacheTtl(Duration ttl) {
            this.cacheTtl = positive(ttl, "cache TTL");
            return this;
        }

        /** How old a cached answer may be and still decide while no enforcer answers (default 30 s). */
        public Builder maxStaleness(Duration staleness) {
            this.maxStaleness = Objects.requireNonNull(staleness, "max staleness");
            return this;
        }

        /** What to answer when no enforcer answers and no cached answer is fresh enough (default open). */
        public Builder failPolicy(FailPolicy policy) {
            this.failPolicy = Objects.requireNonNull(policy, "fail policy");
            return this;
        }

        /** Connect and request timeout per check (default 500 ms). */
        public Builder timeout(Duration t) {
            this.timeout = positive(t, "timeout");
            return this;
        }

        public Builder maxCachedUsers(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("max cached users must be at least 1");
            }
            this.maxCachedUsers = n;
            return this;
        }

        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /** Records {@code meter.limit.client.request} and {@code meter.limit.client.decisions} in {@code r}. */
        public Builder meterRegistry(MeterRegistry r) {
            this.metrics = new MicrometerLimitMetrics(Objects.requireNonNull(r, "registry"));
            return this;
        }

        public LimitClient build() {
            return new LimitClient(this);
        }

        private static Duration positive(Duration d, String what) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(what + " must be positive, was " + d);
            }
            return d;
        }
    }
}
