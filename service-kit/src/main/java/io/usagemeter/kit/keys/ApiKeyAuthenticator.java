package io.usagemeter.kit.keys;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jooq.exception.DataAccessException;

/**
 * Resolves bearer secrets to keys with short caches in front of {@link ApiKeyStore}, so that
 * failed authentication stays cheap and a flood of wrong keys does not slow valid callers:
 * <ul>
 *   <li>a secret that does not have the form of a key ({@link ApiKeySecrets#wellFormed}) is refused
 *       without a lookup;</li>
 *   <li>known keys (active or revoked) are cached for the TTL, so a revocation takes effect within one TTL;</li>
 *   <li>unknown secrets are remembered for the TTL too, in a cache of their own: random keys can
 *       only evict other random keys, never the callers' valid ones;</li>
 *   <li>when the store cannot answer (PostgreSQL down), a key it confirmed within the TTL plus
 *       {@link #OUTAGE_GRACE} keeps its last answer, and the store is asked again once per
 *       {@link #RETRY_AFTER_FAILURE}, in the background when a cached answer exists; every other request
 *       is answered at once (from the cache, or 503 for a key it never confirmed), so an outage of the key
 *       store neither stops metering for known callers nor makes a request wait for a connection timeout.
 *       A revocation cannot be
 *       written while the store is down, so this serves no answer the store would contradict, except a
 *       revocation made less than one TTL before the outage, which then takes effect when it ends.</li>
 * </ul>
 * Both caches are keyed by the secret's SHA-256 (the secret itself is never kept) and bounded;
 * one that reaches its bound is cleared, simpler than an LRU and enough to bound memory.
 */
public final class ApiKeyAuthenticator {

    static final int MAX_KNOWN = 10_000;
    static final int MAX_UNKNOWN = 50_000;
    static final Duration OUTAGE_GRACE = Duration.ofHours(1);
    static final Duration RETRY_AFTER_FAILURE = Duration.ofSeconds(5);

    private final Function<String, Optional<ApiKey>> lookup;
    private final Executor background;
    private final long ttlMillis;
    private final Clock clock;
    private final ConcurrentHashMap<String, Known> known = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> unknownUntil = new ConcurrentHashMap<>();

    private record Known(ApiKey key, long expiresAtMillis, long confirmedAtMillis) {}

    private static final long STORE_ANSWERS = Long.MIN_VALUE;
    /** {@link #STORE_ANSWERS}, or when the store, which failed last time, may be asked again (by one caller). */
    private final AtomicLong storeRetryAt = new AtomicLong(STORE_ANSWERS);

    public ApiKeyAuthenticator(ApiKeyStore store, Duration ttl, Clock clock) {
        this(store::findBySecret, ttl, clock);
    }

    ApiKeyAuthenticator(Function<String, Optional<ApiKey>> lookup, Duration ttl, Clock clock) {
        this(lookup, ttl, clock, ForkJoinPool.commonPool());
    }

    /** {@code background} asks the store again during an outage while callers are answered from the cache. */
    ApiKeyAuthenticator(Function<String, Optional<ApiKey>> lookup, Duration ttl, Clock clock, Executor background) {
        this.background = background;
        this.lookup = lookup;
        this.ttlMillis = ttl.toMillis();
        this.clock = clock;
    }

    /**
     * The active key with this secret, or empty when it is malformed, unknown or revoked.
     *
     * @throws DataAccessException when the key store must be asked, cannot answer, and holds no recent answer
     */
    public Optional<ApiKey> authenticate(String secret) {
        if (!ApiKeySecrets.wellFormed(secret)) {
            return Optional.empty();
        }
        String hash = ApiKeySecrets.hash(secret);
        long now = clock.millis();
        Known cached = known.get(hash);
        if (cached != null && now < cached.expiresAtMillis()) {
            return answer(cached.key());
        }
        Long until = unknownUntil.get(hash);
        if (until != null && now < until) {
            return Optional.empty();
        }
        boolean fallback = cached != null && now < cached.confirmedAtMillis() + ttlMillis + OUTAGE_GRACE.toMillis();
        long retryAt = storeRetryAt.get();
        if (retryAt != STORE_ANSWERS) {
            boolean claimed = now >= retryAt && storeRetryAt.compareAndSet(retryAt, now + RETRY_AFTER_FAILURE.toMillis());
            if (fallback) {
                if (claimed) {
                    background.execute(() -> {
                        try {
                            ask(secret, hash);
                        } catch (DataAccessException stillDown) {
                            // the next claim asks again; the caller already has its answer
                        }
                    });
                }
                return answer(cached.key());
            }
            if (!claimed) {
                throw new DataAccessException("the API key store did not answer; asking it again within "
                        + RETRY_AFTER_FAILURE.toSeconds() + " s");
            }
        }
        try {
            return ask(secret, hash).filter(ApiKey::active);
        } catch (DataAccessException storeDown) {
            if (fallback) {
                return answer(cached.key());
            }
            throw storeDown;
        }
    }

    /** Asks the store, and caches what it says (a key or its absence). */
    private Optional<ApiKey> ask(String secret, String hash) {
        Optional<ApiKey> found;
        try {
            found = lookup.apply(secret);
        } catch (DataAccessException storeDown) {
            storeRetryAt.set(clock.millis() + RETRY_AFTER_FAILURE.toMillis());
            throw storeDown;
        }
        storeRetryAt.set(STORE_ANSWERS);
        long now = clock.millis();
        if (found.isPresent()) {
            if (known.size() >= MAX_KNOWN) {
                known.clear();
            }
            known.put(hash, new Known(found.get(), now + ttlMillis, now));
            unknownUntil.remove(hash);
        } else {
            if (unknownUntil.size() >= MAX_UNKNOWN) {
                unknownUntil.clear();
            }
            unknownUntil.put(hash, now + ttlMillis);
        }
        return found;
    }

    private static Optional<ApiKey> answer(ApiKey key) {
        return key.active() ? Optional.of(key) : Optional.empty();
    }
}
