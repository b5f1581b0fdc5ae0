package io.usagemeter.schema.vault;

/**
 * A stored token cannot be decrypted: the key is not in the keyset, the ciphertext was altered, or it
 * belongs to another user or provider. The message names the row, never the token.
 */
public final class TokenUnreadableException extends RuntimeException {
    public TokenUnreadableException(String message) {
        super(message);
    }
}
