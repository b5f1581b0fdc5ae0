package io.usagemeter.schema.vault;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Objects;
import java.util.UUID;

/**
 * Seals provider tokens with the keyset's primary AES-256-GCM key and opens them with any key in the set.
 *
 * <p>The user id and provider are the associated data, so a ciphertext copied to another user's row or
 * another provider fails authentication instead of handing one user's token to another.
 */
public final class TokenCipher {

    private static final String ASSOCIATED_DATA_PREFIX = "usage-meter/user-token/v1|";

    private final TokenKeyset keyset;

    public TokenCipher(TokenKeyset keyset) {
        this.keyset = Objects.requireNonNull(keyset);
    }

    /** A token encrypted under {@code keyId}; the ciphertext starts with Tink's prefix naming the same key. */
    public record SealedToken(byte[] ciphertext, long keyId) {}

    public SealedToken seal(UUID userId, TokenProvider provider, String token) {
        try {
            byte[] ciphertext = keyset.aead().encrypt(token.getBytes(StandardCharsets.UTF_8),
                    associatedData(userId, provider));
            return new SealedToken(ciphertext, TokenKeyset.keyIdOf(ciphertext));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not encrypt the " + provider.wireName() + " token of user "
                    + userId + ": " + e.getMessage(), e);
        }
    }

    public String open(UUID userId, TokenProvider provider, byte[] ciphertext) {
        try {
            byte[] plain = keyset.aead().decrypt(ciphertext, associatedData(userId, provider));
            return new String(plain, StandardCharsets.UTF_8);
        } catch (GeneralSecurityException e) {
            throw new TokenUnreadableException("the " + provider.wireName() + " token of user " + userId
                    + " does not decrypt with " + TokenKeyset.VARIABLE + " (key " + describeKey(ciphertext)
                    + "): the key is missing from the keyset or the row was altered or moved");
        }
    }

    static byte[] associatedData(UUID userId, TokenProvider provider) {
        return (ASSOCIATED_DATA_PREFIX + userId + "|" + provider.wireName()).getBytes(StandardCharsets.UTF_8);
    }

    private static String describeKey(byte[] ciphertext) {
        try {
            return Long.toString(TokenKeyset.keyIdOf(ciphertext));
        } catch (IllegalArgumentException e) {
            return "unknown";
        }
    }
}
