package io.usagemeter.schema.vault;

import io.usagemeter.schema.vault.UserTokenTable.StoredToken;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Predicate;
import org.jooq.DSLContext;
import org.jooq.exception.IntegrityConstraintViolationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Users' provider tokens (GitHub, OpenAI, Anthropic, Gemini), encrypted at rest with AES-256-GCM.
 *
 * <p>Apps that need a plaintext token call {@link #reveal}; each call is audited on the
 * {@code io.usagemeter.audit.tokens} logger with user, provider and caller. Neither the logs, the
 * exceptions nor any output of this class ever contain a token.
 */
public final class TokenVault {

    /** Audit trail of who read or changed which token; routed separately from the operational log. */
    private static final Logger AUDIT = LoggerFactory.getLogger("io.usagemeter.audit.tokens");
    private static final Logger LOG = LoggerFactory.getLogger(TokenVault.class);
    private static final String LEGACY_KEY = UserTokenTable.LEGACY_KEY;

    private final DSLContext db;
    private final TokenKeyset keyset;
    private final TokenCipher cipher;
    private final Optional<LegacyTokenCipher> legacy;

    public TokenVault(DSLContext db, TokenKeyset keyset, Optional<LegacyTokenCipher> legacy) {
        this.db = Objects.requireNonNull(db);
        this.keyset = Objects.requireNonNull(keyset);
        this.cipher = new TokenCipher(keyset);
        this.legacy = Objects.requireNonNull(legacy);
    }

    /** The vault with keys from {@code METER_TOKEN_KEYSET} and, if set, the legacy key {@code METER_LEGACY_TOKEN_KEY}. */
    public static TokenVault fromEnvironment(DSLContext db, Map<String, String> env) {
        return new TokenVault(db, TokenKeyset.fromEnvironment(env), LegacyTokenCipher.fromEnvironment(env));
    }

    public TokenKeyset keyset() {
        return keyset;
    }

    /** Stores (or replaces) the user's token for {@code provider}, encrypted under the primary key. */
    public void put(UUID userId, TokenProvider provider, String token) {
        if (token == null || token.isBlank()) {
            throw new IllegalArgumentException("the " + provider.wireName() + " token is empty");
        }
        TokenCipher.SealedToken sealed = cipher.seal(userId, provider, token);
        try {
            UserTokenTable.upsert(db, userId, provider, sealed);
        } catch (IntegrityConstraintViolationException e) {
            if ("23503".equals(e.sqlState())) {
                throw new IllegalArgumentException("no user " + userId);
            }
            throw e;
        }
        AUDIT.info("token stored: user={} provider={} key={}", userId, provider.wireName(), sealed.keyId());
    }

    /**
     * The user's plaintext token for {@code provider}, or empty when none is stored.
     *
     * @param caller who asks (app or command name), recorded in the audit log
     * @throws TokenUnreadableException when the row does not decrypt (missing key, altered or moved row)
     */
    public Optional<String> reveal(UUID userId, TokenProvider provider, String caller) {
        if (caller == null || caller.isBlank()) {
            throw new IllegalArgumentException("reveal needs the caller's name for the audit log");
        }
        Optional<StoredToken> row = UserTokenTable.find(db, userId, provider);
        if (row.isEmpty()) {
            AUDIT.info("token reveal: user={} provider={} caller={} outcome=absent", userId, provider.wireName(), caller);
            return Optional.empty();
        }
        try {
            String token = open(row.get());
            AUDIT.info("token reveal: user={} provider={} caller={} outcome=revealed key={}",
                    userId, provider.wireName(), caller, row.get().keyId());
            return Optional.of(token);
        } catch (TokenUnreadableException e) {
            AUDIT.warn("token reveal: user={} provider={} caller={} outcome=unreadable",
                    userId, provider.wireName(), caller);
            throw e;
        }
    }

    /** The user's stored tokens, described without the tokens themselves. */
    public List<TokenSummary> list(UUID userId) {
        return UserTokenTable.forUser(db, userId).stream()
                .map(row -> new TokenSummary(row.provider(), row.scheme(), row.keyId(), row.createdAt(),
                        row.rotatedAt(), fingerprintOf(row)))
                .toList();
    }

    public boolean delete(UUID userId, TokenProvider provider) {
        boolean deleted = UserTokenTable.delete(db, userId, provider);
        AUDIT.info("token delete: user={} provider={} outcome={}", userId, provider.wireName(),
                deleted ? "deleted" : "absent");
        return deleted;
    }

    /**
     * Re-encrypts every Tink row not under the primary key, {@code batchSize} rows per transaction,
     * for at most {@code maxBatches} batches. Resumable: a later run picks up whatever still has another
     * key id. Rows stay readable throughout, since every key remains in the keyset until this is done.
     */
    public ResealReport rotate(int batchSize, long maxBatches) {
        long primary = keyset.primaryKeyId();
        return reseal("rotate", batchSize, maxBatches,
                tx -> UserTokenTable.lockRowsNotUnder(tx, primary, batchSize),
                this::openTink,
                key -> !key.equals(LEGACY_KEY) && !key.equals(Long.toString(primary)));
    }

    /**
     * Moves rows of the older AES-256-CBC scheme to AES-256-GCM under the primary key, in batches like
     * {@link #rotate}. Needs {@code METER_LEGACY_TOKEN_KEY} only when such rows exist.
     */
    public ResealReport migrateLegacy(int batchSize, long maxBatches) {
        return reseal("migrate-legacy", batchSize, maxBatches,
                tx -> UserTokenTable.lockLegacyRows(tx, batchSize),
                row -> openLegacy(row, legacy.orElseThrow(() -> new VaultConfigException(
                        LegacyTokenCipher.VARIABLE + " is not set; it is needed to read the legacy AES-CBC tokens"))),
                LEGACY_KEY::equals);
    }

    /** Rows per key id ({@code "legacy"} for rows of the older scheme), e.g. to tell which keys are still needed. */
    public Map<String, Long> rowsPerKey() {
        return UserTokenTable.rowsPerKey(db);
    }

    private interface BatchSource {
        List<StoredToken> lock(DSLContext tx);
    }

    private interface Opener {
        String open(StoredToken row);
    }

    private ResealReport reseal(String pass, int batchSize, long maxBatches, BatchSource source, Opener opener,
            Predicate<String> pendingKey) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, was " + batchSize);
        }
        int batches = 0;
        long resealed = 0;
        while (batches < maxBatches) {
            int done = db.transactionResult(c -> {
                DSLContext tx = c.dsl();
                List<StoredToken> rows = source.lock(tx);
                for (StoredToken row : rows) {
                    UserTokenTable.reseal(tx, row.id(), cipher.seal(row.userId(), row.provider(), opener.open(row)));
                }
                return rows.size();
            });
            if (done == 0) {
                break;
            }
            batches++;
            resealed += done;
            LOG.info("{}: batch {} re-encrypted {} tokens under key {}", pass, batches, done, keyset.primaryKeyId());
        }
        Map<String, Long> rowsPerKey = rowsPerKey();
        long remaining = rowsPerKey.entrySet().stream()
                .filter(e -> pendingKey.test(e.getKey()))
                .mapToLong(Map.Entry::getValue)
                .sum();
        AUDIT.info("tokens {}: resealed={} batches={} remaining={} primary_key={}",
                pass, resealed, batches, remaining, keyset.primaryKeyId());
        return new ResealReport(batches, resealed, remaining, keyset.primaryKeyId(), rowsPerKey);
    }

    private String open(StoredToken row) {
        if (row.isLegacy()) {
            return openLegacy(row, legacy.orElseThrow(() -> new TokenUnreadableException("the "
                    + row.provider().wireName() + " token of user " + row.userId() + " is still in the legacy AES-CBC"
                    + " scheme: run `meter tokens migrate-legacy` (or set " + LegacyTokenCipher.VARIABLE + ")")));
        }
        return openTink(row);
    }

    private String openTink(StoredToken row) {
        return cipher.open(row.userId(), row.provider(), row.ciphertext());
    }

    private static String openLegacy(StoredToken row, LegacyTokenCipher legacyCipher) {
        try {
            return legacyCipher.open(row.nonce(), row.ciphertext());
        } catch (GeneralSecurityException e) {
            throw new TokenUnreadableException("legacy row " + row.id() + " (" + row.provider().wireName()
                    + " token of user " + row.userId() + ") does not decrypt with " + LegacyTokenCipher.VARIABLE);
        }
    }

    /**
     * SHA-256 of the token, first 8 hex digits. Provider tokens carry well over 128 random bits, so 32 bits
     * of a hash neither reveal them nor allow a guess; an operator can compare against a token they hold
     * without any key ({@code sha256sum < token-file | cut -c1-8}). A keyed HMAC would only add protection
     * for guessable secrets, at the cost of a second long-lived key that must survive every rotation.
     */
    private String fingerprintOf(StoredToken row) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(open(row).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash, 0, 4);
        } catch (TokenUnreadableException e) {
            LOG.warn("{}", e.getMessage());
            return TokenSummary.UNREADABLE;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
