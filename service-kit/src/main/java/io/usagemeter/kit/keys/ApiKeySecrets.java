package io.usagemeter.kit.keys;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Generates API key secrets and hashes them for storage.
 *
 * <p>A secret is {@value #MARKER} followed by 32 random bytes in URL-safe base64 (256 bits of
 * entropy). Because the secret is random and that long, a single SHA-256 is the right hash:
 * brute force is hopeless whatever the hash speed, and a deliberately slow hash (bcrypt,
 * argon2) would only add latency to every uncached request.
 */
public final class ApiKeySecrets {

    /** Makes keys recognisable to secret scanners and humans. */
    public static final String MARKER = "um_";
    /** Characters kept in clear: the marker and 9 characters (54 random bits) of the key. */
    public static final int PREFIX_LENGTH = 12;

    private static final SecureRandom RANDOM = new SecureRandom();
    /** Never used itself (a digest is not thread-safe): {@link #hash} works on a copy. */
    private static final MessageDigest SHA_256 = sha256();
    private static final HexFormat HEX = HexFormat.of();
    private static final int RANDOM_BYTES = 32;
    /** The marker and 32 bytes in unpadded base64: 3 + 43 characters. */
    static final int LENGTH = MARKER.length() + (RANDOM_BYTES * 4 + 2) / 3;

    private ApiKeySecrets() {}

    public static String generate() {
        byte[] bytes = new byte[RANDOM_BYTES];
        RANDOM.nextBytes(bytes);
        return MARKER + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /**
     * Whether {@code secret} has the form of a key this class generates: the marker, then exactly 43
     * URL-safe base64 characters. Anything else cannot be a key and is refused without a lookup.
     */
    public static boolean wellFormed(String secret) {
        if (secret == null || secret.length() != LENGTH || !secret.startsWith(MARKER)) {
            return false;
        }
        for (int i = MARKER.length(); i < LENGTH; i++) {
            char c = secret.charAt(i);
            boolean base64url = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_';
            if (!base64url) {
                return false;
            }
        }
        return true;
    }

    public static String prefix(String secret) {
        return secret.substring(0, Math.min(PREFIX_LENGTH, secret.length()));
    }

    /**
     * Lowercase hex SHA-256 of the secret's UTF-8 bytes. Runs on every authenticated request: a copy of one digest
     * is cheaper than looking the algorithm up among the providers each time.
     */
    public static String hash(String secret) {
        MessageDigest sha256;
        try {
            sha256 = (MessageDigest) SHA_256.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException("the SHA-256 digest of this runtime cannot be copied", e);
        }
        return HEX.formatHex(sha256.digest(secret.getBytes(StandardCharsets.UTF_8)));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
