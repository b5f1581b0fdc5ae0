package io.usagemeter.schema.vault;

import java.time.OffsetDateTime;

/**
 * What {@code meter tokens list} shows about a stored token: never the token itself.
 *
 * @param keyId the Tink key id the row is encrypted under (0 for a legacy row)
 * @param fingerprint first 8 hex digits of SHA-256 of the token, or {@code "unreadable"} when it does not decrypt
 */
public record TokenSummary(TokenProvider provider, String scheme, long keyId, OffsetDateTime createdAt,
        OffsetDateTime rotatedAt, String fingerprint) {

    public static final String UNREADABLE = "unreadable";
}
