package io.usagemeter.ingest.keys;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Resolves bearer secrets to keys with a short cache in front of {@link ApiKeyStore}, so the
 * database sees one lookup per key per TTL instead of one per request.
 *
 * <p>The cache is keyed by the secret's hash (the secret itself is never kept) and also holds
 * misses, so a flood of wrong keys does not become a flood of queries. A revocation takes effect
 * within one TTL. The cache is cleared when it grows past {@link #MAX_ENTRIES}: simpler than an
 * LRU and enough to bound memory against random keys.
 */
public final class ApiKeyAuthenticator {

    static final int MAX_ENTRIES = 10_000;

    private final Function<String, Optional<ApiKey>> lookup;
    private final Duration ttl;
    private final Clock clock;
    private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();

    private record Cached(Optional<ApiKey> key, Instant expiresAt) {}

    public ApiKeyAuthenticator(ApiKeyStore store, Duration ttl, Clock clock) {
        this(store::findBySecret, ttl, clock);
    }

    ApiKeyAuthenticator(Function<String, Optional<ApiKey>> lookup, Duration ttl, Clock clock) {
        this.lookup = lookup;
        this.ttl = ttl;
        this.clock = clock;
    }

    /** The active key with this secret, or empty when it is unknown or revoked. */
    public Optional<ApiKey> authenticate(String secret) {
        if (secret == null || secret.isEmpty()) {
            return Optional.empty();
        }
        String hash = ApiKeySecrets.hash(secret);
        Instant now = clock.instant();
        Cached cached = cache.get(hash);
        if (cached == null || !now.isBefore(cached.expiresAt())) {
            if (cache.size() >= MAX_ENTRIES) {
                cache.clear();
            }
            cached = new Cached(lookup.apply(secret), now.plus(ttl));
            cache.put(hash, cached);
        }
        return cached.key().filter(ApiKey::active);
    }
}
