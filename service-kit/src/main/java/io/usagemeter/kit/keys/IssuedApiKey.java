package io.usagemeter.kit.keys;

import java.util.Objects;

/**
 * A key just created: the only moment its secret exists outside the caller's own storage.
 * {@link #toString()} leaves the secret out so that logging the object cannot leak it.
 */
public record IssuedApiKey(ApiKey key, String secret) {

    public IssuedApiKey {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(secret, "secret");
    }

    @Override
    public String toString() {
        return "IssuedApiKey[key=" + key + ", secret=" + key.prefix() + "…]";
    }
}
