package io.usagemeter.schema.vault;

import static org.jooq.impl.DSL.count;
import static org.jooq.impl.DSL.currentOffsetDateTime;

import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.jooq.DSLContext;
import io.usagemeter.schema.jooq.Tables;
import org.jooq.Field;
import org.jooq.Record;

/**
 * Every query on {@code user_tokens}, through typed jOOQ references with bind values.
 *
 * <p>Columns come from the generated {@code Tables.USER_TOKENS} (migration V2). Every method takes the {@link DSLContext} to run in, so callers choose the transaction.
 */
final class UserTokenTable {

    static final String SCHEME_TINK = "tink-aes256-gcm";
    static final String SCHEME_LEGACY = "legacy-aes256-cbc";
    /** How {@link #rowsPerKey} names the legacy rows, which have no Tink key. */
    static final String LEGACY_KEY = "legacy";

    static final io.usagemeter.schema.jooq.tables.UserTokens USER_TOKENS = Tables.USER_TOKENS;
    static final Field<Long> ID = USER_TOKENS.ID;
    static final Field<UUID> USER_ID = USER_TOKENS.USER_ID;
    static final Field<String> PROVIDER = USER_TOKENS.PROVIDER;
    static final Field<byte[]> CIPHERTEXT = USER_TOKENS.CIPHERTEXT;
    static final Field<byte[]> NONCE = USER_TOKENS.NONCE;
    static final Field<Long> KEY_ID = USER_TOKENS.KEY_ID;
    static final Field<String> SCHEME = USER_TOKENS.SCHEME;
    static final Field<OffsetDateTime> CREATED_AT = USER_TOKENS.CREATED_AT;
    static final Field<OffsetDateTime> ROTATED_AT = USER_TOKENS.ROTATED_AT;

    /** One row as stored. {@code nonce} is the IV of legacy rows, null for Tink rows. */
    record StoredToken(long id, UUID userId, TokenProvider provider, byte[] ciphertext, byte[] nonce, long keyId,
            String scheme, OffsetDateTime createdAt, OffsetDateTime rotatedAt) {

        boolean isLegacy() {
            return SCHEME_LEGACY.equals(scheme);
        }
    }

    private UserTokenTable() {}

    /** Stores a new token or replaces the user's token for that provider (a replaced token counts as new). */
    static void upsert(DSLContext db, UUID userId, TokenProvider provider, TokenCipher.SealedToken sealed) {
        db.insertInto(USER_TOKENS)
                .set(USER_ID, userId)
                .set(PROVIDER, provider.wireName())
                .set(CIPHERTEXT, sealed.ciphertext())
                .set(KEY_ID, sealed.keyId())
                .set(SCHEME, SCHEME_TINK)
                .onConflict(USER_ID, PROVIDER)
                .doUpdate()
                .set(CIPHERTEXT, sealed.ciphertext())
                .set(NONCE, (byte[]) null)
                .set(KEY_ID, sealed.keyId())
                .set(SCHEME, SCHEME_TINK)
                .set(CREATED_AT, currentOffsetDateTime())
                .set(ROTATED_AT, (OffsetDateTime) null)
                .execute();
    }

    static Optional<StoredToken> find(DSLContext db, UUID userId, TokenProvider provider) {
        return db.select(columns())
                .from(USER_TOKENS)
                .where(USER_ID.eq(userId).and(PROVIDER.eq(provider.wireName())))
                .fetchOptional(UserTokenTable::toStoredToken);
    }

    static List<StoredToken> forUser(DSLContext db, UUID userId) {
        return db.select(columns())
                .from(USER_TOKENS)
                .where(USER_ID.eq(userId))
                .orderBy(PROVIDER)
                .fetch(UserTokenTable::toStoredToken);
    }

    static boolean delete(DSLContext db, UUID userId, TokenProvider provider) {
        return db.deleteFrom(USER_TOKENS)
                .where(USER_ID.eq(userId).and(PROVIDER.eq(provider.wireName())))
                .execute() > 0;
    }

    /**
     * Locks up to {@code limit} Tink rows not under {@code primaryKeyId}, oldest first. SKIP LOCKED lets two
     * rotations run side by side without waiting on or re-encrypting each other's rows.
     */
    static List<StoredToken> lockRowsNotUnder(DSLContext db, long primaryKeyId, int limit) {
        return db.select(columns())
                .from(USER_TOKENS)
                .where(SCHEME.eq(SCHEME_TINK).and(KEY_ID.ne(primaryKeyId)))
                .orderBy(ID)
                .limit(limit)
                .forUpdate()
                .skipLocked()
                .fetch(UserTokenTable::toStoredToken);
    }

    static List<StoredToken> lockLegacyRows(DSLContext db, int limit) {
        return db.select(columns())
                .from(USER_TOKENS)
                .where(SCHEME.eq(SCHEME_LEGACY))
                .orderBy(ID)
                .limit(limit)
                .forUpdate()
                .skipLocked()
                .fetch(UserTokenTable::toStoredToken);
    }

    /** Replaces a row's ciphertext with one made by the current primary key (rotation and legacy migration). */
    static void reseal(DSLContext db, long id, TokenCipher.SealedToken sealed) {
        db.update(USER_TOKENS)
                .set(CIPHERTEXT, sealed.ciphertext())
                .set(NONCE, (byte[]) null)
                .set(KEY_ID, sealed.keyId())
                .set(SCHEME, SCHEME_TINK)
                .set(ROTATED_AT, currentOffsetDateTime())
                .where(ID.eq(id))
                .execute();
    }

    /** Rows per (scheme, key id), to say which keys are still needed. */
    static Map<String, Long> rowsPerKey(DSLContext db) {
        Map<String, Long> rows = new LinkedHashMap<>();
        db.select(SCHEME, KEY_ID, count())
                .from(USER_TOKENS)
                .groupBy(SCHEME, KEY_ID)
                .orderBy(SCHEME, KEY_ID)
                .forEach(r -> rows.put(SCHEME_LEGACY.equals(r.value1()) ? LEGACY_KEY : Long.toString(r.value2()),
                        r.value3().longValue()));
        return rows;
    }

    private static List<Field<?>> columns() {
        return List.of(ID, USER_ID, PROVIDER, CIPHERTEXT, NONCE, KEY_ID, SCHEME, CREATED_AT, ROTATED_AT);
    }

    private static StoredToken toStoredToken(Record r) {
        return new StoredToken(r.get(ID), r.get(USER_ID), TokenProvider.fromWireName(r.get(PROVIDER)),
                r.get(CIPHERTEXT), r.get(NONCE), r.get(KEY_ID), r.get(SCHEME), r.get(CREATED_AT), r.get(ROTATED_AT));
    }
}
