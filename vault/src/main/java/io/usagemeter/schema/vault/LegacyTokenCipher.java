package io.usagemeter.schema.vault;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * Reads tokens the older system wrote with AES-256-CBC and PKCS#7 padding. Decrypt only: CBC without a
 * MAC is malleable and a padding oracle, so nothing is ever written this way again; this class exists so
 * {@code meter tokens migrate-legacy} can move those rows to AES-GCM.
 */
public final class LegacyTokenCipher {

    /** The older system's 32-byte key, as 64 hex digits or base64. */
    public static final String VARIABLE = "METER_LEGACY_TOKEN_KEY";

    private static final Pattern HEX_KEY = Pattern.compile("[0-9a-fA-F]{64}");

    private final SecretKeySpec key;

    LegacyTokenCipher(byte[] key) {
        if (key.length != 32) {
            throw new IllegalArgumentException("AES-256 needs a 32-byte key");
        }
        this.key = new SecretKeySpec(key, "AES");
    }

    /** The legacy cipher when {@code METER_LEGACY_TOKEN_KEY} is set; fails naming it when it is not a 32-byte key. */
    public static Optional<LegacyTokenCipher> fromEnvironment(Map<String, String> env) {
        String value = env.get(VARIABLE);
        if (value == null || value.isBlank()) {
            return Optional.empty();
        }
        String trimmed = value.strip();
        byte[] key = HEX_KEY.matcher(trimmed).matches() ? HexFormat.of().parseHex(trimmed) : base64(trimmed);
        if (key == null || key.length != 32) {
            throw new VaultConfigException(VARIABLE + " must be the older system's 32-byte AES key as 64 hex digits or base64");
        }
        return Optional.of(new LegacyTokenCipher(key));
    }

    /** Decrypts one legacy row; {@code iv} is the row's {@code nonce}. */
    String open(byte[] iv, byte[] ciphertext) throws GeneralSecurityException {
        if (iv == null || iv.length != 16) {
            throw new GeneralSecurityException("legacy row has no 16-byte IV in nonce");
        }
        Cipher cipher = Cipher.getInstance("AES/CBC/PKCS5Padding"); // Java's PKCS5Padding is PKCS#7 for AES
        cipher.init(Cipher.DECRYPT_MODE, key, new IvParameterSpec(iv));
        byte[] plain = cipher.doFinal(ciphertext);
        // CBC has no integrity check: a wrong key still passes the padding check about once in 256 rows.
        // Provider tokens are printable ASCII, so anything else means a wrong key or an altered row, and
        // must not be re-encrypted as if it were the token.
        for (byte b : plain) {
            if (b < 0x21 || b > 0x7e) {
                throw new GeneralSecurityException("legacy plaintext is not a printable token");
            }
        }
        if (plain.length == 0) {
            throw new GeneralSecurityException("legacy plaintext is empty");
        }
        return new String(plain, StandardCharsets.US_ASCII);
    }

    private static byte[] base64(String value) {
        try {
            return Base64.getDecoder().decode(value);
        } catch (IllegalArgumentException e) {
            try {
                return Base64.getUrlDecoder().decode(value);
            } catch (IllegalArgumentException again) {
                return null;
            }
        }
    }
}
