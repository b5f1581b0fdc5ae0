package io.usagemeter.notifier;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Standard Webhooks signing: {@code webhook-signature} is {@code v1,} and the base64 of
 * HMAC-SHA256 over {@code webhook-id + "." + webhook-timestamp + "." + body}, keyed with the
 * base64-decoded part of the secret after {@code whsec_}. Several signatures (during a secret
 * rotation) are separated by spaces; a receiver accepts the message when any one of them matches.
 */
public final class WebhookSignature {

    public static final String SECRET_PREFIX = "whsec_";
    /** Random bytes in a new secret (the specification asks for 24 to 64). */
    private static final int SECRET_BYTES = 32;
    private static final SecureRandom RANDOM = new SecureRandom();

    private WebhookSignature() {
    }

    /** A new secret: {@code whsec_} and the base64 of 32 random bytes. */
    public static String newSecret() {
        byte[] key = new byte[SECRET_BYTES];
        RANDOM.nextBytes(key);
        return SECRET_PREFIX + Base64.getEncoder().encodeToString(key);
    }

    /** The {@code webhook-signature} header: one {@code v1,<base64>} per secret, space-separated. */
    public static String header(String messageId, long timestampSeconds, String body, List<String> secrets) {
        List<String> signatures = new ArrayList<>(secrets.size());
        for (String secret : secrets) {
            signatures.add("v1," + sign(messageId, timestampSeconds, body, secret));
        }
        return String.join(" ", signatures);
    }

    /** The base64 HMAC-SHA256 of {@code id.timestamp.body} under {@code secret}. */
    public static String sign(String messageId, long timestampSeconds, String body, String secret) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key(secret), "HmacSHA256"));
            byte[] signed = mac.doFinal((messageId + "." + timestampSeconds + "." + body).getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(signed);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available: " + e.getMessage(), e);
        }
    }

    /** Whether any {@code v1} signature in {@code header} is the one {@code secret} gives (constant-time compare). */
    public static boolean verify(String messageId, long timestampSeconds, String body, String header, String secret) {
        byte[] expected = sign(messageId, timestampSeconds, body, secret).getBytes(StandardCharsets.US_ASCII);
        for (String part : header.split(" ")) {
            if (part.startsWith("v1,")
                    && MessageDigest.isEqual(expected, part.substring(3).getBytes(StandardCharsets.US_ASCII))) {
                return true;
            }
        }
        return false;
    }

    private static byte[] key(String secret) {
        String encoded = secret.startsWith(SECRET_PREFIX) ? secret.substring(SECRET_PREFIX.length()) : secret;
        return Base64.getDecoder().decode(encoded);
    }
}
