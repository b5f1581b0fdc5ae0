package io.usagemeter.schema.vault;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.aead.AeadConfig;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.aead.AesGcmParameters;
import com.google.crypto.tink.aead.PredefinedAeadParameters;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The AES-256-GCM keys that protect provider tokens, as a Tink keyset.
 *
 * <p>Every key uses Tink's output prefix, so each ciphertext starts with the id of the key that made
 * it; decryption picks that key from the set, which is why old keys stay in the set until
 * {@code meter tokens rotate} has moved every row to the primary. Key ids are Tink's 32-bit ids read
 * as unsigned, the value stored in {@code user_tokens.key_id}.
 */
public final class TokenKeyset {

    /** The environment variable holding the keyset JSON, or the path of a file that holds it. */
    public static final String VARIABLE = "METER_TOKEN_KEYSET";

    static {
        try {
            // Lets Tink parse AES-GCM keys into typed keys (AesGcmKey) rather than opaque protos.
            AeadConfig.register();
        } catch (GeneralSecurityException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final KeysetHandle handle;
    private final Aead aead;

    private TokenKeyset(KeysetHandle handle) throws GeneralSecurityException {
        this.handle = handle;
        this.aead = handle.getPrimitive(RegistryConfiguration.get(), Aead.class);
    }

    /**
     * Reads {@code METER_TOKEN_KEYSET} from {@code env}: the keyset JSON itself, or a path to a file
     * holding it. Fails with a {@link VaultConfigException} naming the variable; the value is never
     * echoed, since it may be key material.
     */
    public static TokenKeyset fromEnvironment(Map<String, String> env) {
        String value = env.get(VARIABLE);
        if (value == null || value.isBlank()) {
            throw new VaultConfigException(VARIABLE + " is not set: give it a Tink keyset in JSON form or the path"
                    + " of a file holding one (create one with `meter tokens keygen`)");
        }
        String trimmed = value.strip();
        if (trimmed.startsWith("{")) {
            return parse(trimmed, VARIABLE + " (inline JSON)");
        }
        Path file;
        try {
            file = Path.of(trimmed);
        } catch (InvalidPathException e) {
            throw new VaultConfigException(VARIABLE + " is neither a Tink keyset in JSON form nor a path to a file");
        }
        return parse(readFile(file, VARIABLE + " names a keyset file that cannot be read"),
                VARIABLE + " (file " + file + ")");
    }

    /** Parses a keyset file, e.g. for {@code meter tokens keygen --add-to FILE}. */
    public static TokenKeyset fromFile(Path file) {
        return parse(readFile(file, "keyset file " + file + " cannot be read"), "keyset file " + file);
    }

    /** A new keyset with one fresh AES-256-GCM key, which is primary. */
    public static TokenKeyset generate() {
        try {
            return new TokenKeyset(KeysetHandle.generateNew(PredefinedAeadParameters.AES256_GCM));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not generate an AES-256-GCM key: " + e.getMessage(), e);
        }
    }

    /** This keyset plus a fresh AES-256-GCM key that becomes primary; the old keys stay for decryption. */
    public TokenKeyset withNewPrimary() {
        try {
            KeysetHandle rotated = KeysetHandle.newBuilder(handle)
                    .addEntry(KeysetHandle.generateEntryFromParameters(PredefinedAeadParameters.AES256_GCM)
                            .withRandomId()
                            .makePrimary())
                    .build();
            return new TokenKeyset(rotated);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not add a key to the keyset: " + e.getMessage(), e);
        }
    }

    /**
     * This keyset without {@code keyId}, once no row is encrypted under it any more (after a complete
     * {@code meter tokens rotate}). The primary key cannot be removed.
     */
    public TokenKeyset withoutKey(long keyId) {
        if (keyId == primaryKeyId()) {
            throw new IllegalArgumentException("key " + keyId + " is the primary key and cannot be removed");
        }
        try {
            KeysetHandle.Builder builder = KeysetHandle.newBuilder(handle);
            for (int i = 0; i < builder.size(); i++) {
                if (Integer.toUnsignedLong(handle.getAt(i).getId()) == keyId) {
                    builder.deleteAt(i);
                    return new TokenKeyset(builder.build());
                }
            }
            throw new IllegalArgumentException("key " + keyId + " is not in the keyset");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not remove key " + keyId + ": " + e.getMessage(), e);
        }
    }

    /** The cleartext keyset JSON, with key material: a secret, for the environment or a protected file only. */
    public String toJson() {
        try {
            return TinkJsonProtoKeysetFormat.serializeKeyset(handle, InsecureSecretKeyAccess.get());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("could not serialise the keyset: " + e.getMessage(), e);
        }
    }

    /** The id of the key new ciphertexts are made with. */
    public long primaryKeyId() {
        return Integer.toUnsignedLong(handle.getPrimary().getId());
    }

    /** The ids of every key in the set, primary included, in keyset order. */
    public List<Long> keyIds() {
        List<Long> ids = new ArrayList<>(handle.size());
        for (int i = 0; i < handle.size(); i++) {
            ids.add(Integer.toUnsignedLong(handle.getAt(i).getId()));
        }
        return ids;
    }

    Aead aead() {
        return aead;
    }

    /** The key id in a Tink-prefixed ciphertext (version byte 0x01, then the id as 4 big-endian bytes). */
    static long keyIdOf(byte[] ciphertext) {
        if (ciphertext.length < 5 || ciphertext[0] != 0x01) {
            throw new IllegalArgumentException("not a Tink-prefixed ciphertext");
        }
        int id = ((ciphertext[1] & 0xff) << 24) | ((ciphertext[2] & 0xff) << 16)
                | ((ciphertext[3] & 0xff) << 8) | (ciphertext[4] & 0xff);
        return Integer.toUnsignedLong(id);
    }

    private static String readFile(Path file, String problem) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
            throw new VaultConfigException(problem + " (" + e.getClass().getSimpleName() + ")");
        }
    }

    private static TokenKeyset parse(String json, String source) {
        KeysetHandle handle;
        try {
            handle = TinkJsonProtoKeysetFormat.parseKeyset(json, InsecureSecretKeyAccess.get());
        } catch (GeneralSecurityException | RuntimeException e) {
            // Tink's message may quote the input, which is key material: say only what is wrong.
            throw new VaultConfigException(source + " is not a valid Tink keyset in JSON form");
        }
        for (int i = 0; i < handle.size(); i++) {
            KeysetHandle.Entry entry = handle.getAt(i);
            if (!(entry.getKey() instanceof AesGcmKey key)
                    || key.getParameters().getKeySizeBytes() != 32
                    || key.getParameters().getVariant() != AesGcmParameters.Variant.TINK) {
                throw new VaultConfigException(source + ": key " + Integer.toUnsignedLong(entry.getId())
                        + " is not an AES-256-GCM key with Tink's output prefix (create keys with `meter tokens keygen`)");
            }
        }
        try {
            return new TokenKeyset(handle);
        } catch (GeneralSecurityException e) {
            throw new VaultConfigException(source + " cannot be used for AES-GCM: " + e.getMessage());
        }
    }
}
