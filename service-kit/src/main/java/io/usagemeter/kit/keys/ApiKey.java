package io.usagemeter.kit.keys;

import io.usagemeter.kit.Caller;
import java.time.Instant;
import java.util.Objects;
import java.util.Set;

/**
 * What the service knows about an API key: never the key itself, only its identifying prefix.
 *
 * @param revokedAt when the key was revoked, or {@code null} while it is active
 */
public record ApiKey(long id, String name, String prefix, Set<String> scopes, Instant createdAt, Instant revokedAt)
        implements Caller {

    public ApiKey {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(prefix, "prefix");
        scopes = Set.copyOf(scopes);
        Objects.requireNonNull(createdAt, "createdAt");
    }

    public boolean active() {
        return revokedAt == null;
    }

    public boolean allows(String scope) {
        return active() && scopes.contains(scope);
    }
}
