package io.usagemeter.kit.keys;

import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Resolves bearer secrets to keys with short caches in front of {@link ApiKeyStore}, so that
 * failed authentication stays cheap and a flood of wrong keys does not slow valid callers:
 * <ul>
 *   <li>a secret that does not have the form of a key ({@link ApiKeySecrets#wellFormed}) is refused
 *       without a lookup;</li>
 *   <li>known keys (active or revoked) are cached for the TTL, so a revocation takes effect within one TTL;</li>
 *   <li>unknown secrets are remembered for the TTL too, in a cache of their own: random keys can
 *       only evict other random keys, never the callers' valid ones.</li>
 * </ul>
 * Both caches are keyed by the secret's SHA-256 (the secret itself is never kept) and bounded;
 * one that reaches its bound is cleared, simpler than an LRU and enough to bound memory.
 */
public final class ApiKeyAuthenticator {

    static final int MAX_KNOWN = 10_000;
    static final int MAX_UNKNOWN = 50_000;

    private final Function<String, Optional<ApiKey>> lookup;
    private final long ttlMillis;
    private final Clock clock;
    private final ConcurrentHashMap<String, Known> known = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Long> unknownUntil = new ConcurrentHashMap<>();

    private record Known(ApiKey key, long expiresAtMillis) {}

    public ApiKeyAuthenticator(ApiKeyStore store, Duration ttl, Clock clock) {
        this(store::findBySecret, ttl, clock);
    }

    ApiKeyAuthenticator(Function<String, Optional<ApiKey>> lookup, Duration ttl, Clock clock) {
        this.lookup = lookup;
        this.ttlMillis = ttl.toMillis();
        this.clock = clock;
    }

    /**
     * The active key with this secret, or empty when it is malformed, unknown or revoked.
     *
     * @throws org.jooq.exception.DataAccessException when the key store must be asked and cannot answer
     */
    public Optional<ApiKey> authenticate(String secret) {
        if (!ApiKeySecrets.wellFormed(secret)) {
            return Optional.empty();
        }
        String hash = ApiKeySecrets.hash(secret);
        long now = clock.millis();
        Known cached = known.get(hash);
        if (cached != null && now < cached.expiresAtMillis()) {
            return cached.key().active() ? Optional.of(cached.key()) : Optional.empty();
        }
        Long until = unknownUntil.get(hash);
        if (until != null && now < until) {
            return Optional.empty();
        }
        Optional<ApiKey> found = lookup.apply(secret);
        if (found.isPresent()) {
            if (known.size() >= MAX_KNOWN) {
                known.clear();
            }
            known.put(hash, new Known(found.get(), now + ttlMillis));
            unknownUntil.remove(hash);
        } else {
            if (unknownUntil.size() >= MAX_UNKNOWN) {
                unknownUntil.clear();
            }
            unknownUntil.put(hash, now + ttlMillis);
        }
        return found.filter(ApiKey::active);
    }
}
