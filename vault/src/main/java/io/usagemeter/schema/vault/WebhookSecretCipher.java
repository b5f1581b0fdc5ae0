package io.usagemeter.schema.vault;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Objects;
import java.util.UUID;

/**
 * Seals webhook signing secrets with the token vault's keyset, as {@link TokenCipher} seals provider
 * tokens. The endpoint id is the associated data, so a sealed secret copied to another endpoint's row
 * fails authentication instead of signing for it.
 */
public final class WebhookSecretCipher {

    private static final String ASSOCIATED_DATA_PREFIX = "usage-meter/webhook-secret/v1|";

    private final TokenKeyset keyset;

    public WebhookSecretCipher(TokenKeyset keyset) {
        this.keyset = Objects.requireNonNull(keyset);
    }

    public TokenCipher.SealedToken seal(UUID endpointId, String secret) {
        try {
            byte[] ciphertext = keyset.aead().encrypt(secret.getBytes(StandardCharsets.UTF_8), associatedData(endpointId));
            return new TokenCipher.SealedToken(ciphertext, TokenKeyset.keyIdOf(ciphertext));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not encrypt the secret of webhook " + endpointId + ": " + e.getMessage(), e);
        }
    }

    public String open(UUID endpointId, byte[] ciphertext) {
        try {
            return new String(keyset.aead().decrypt(ciphertext, associatedData(endpointId)), StandardCharsets.UTF_8);
        } catch (GeneralSecurityException e) {
            throw new TokenUnreadableException("the secret of webhook " + endpointId + " does not decrypt with "
                    + TokenKeyset.VARIABLE + ": the key is missing from the keyset or the row was altered or moved");
        }
    }

    private static byte[] associatedData(UUID endpointId) {
        return (ASSOCIATED_DATA_PREFIX + endpointId).getBytes(StandardCharsets.UTF_8);
    }
}
