package io.usagemeter.kit.keys;

import static io.usagemeter.schema.jooq.Tables.API_KEYS;

import io.usagemeter.schema.jooq.tables.records.ApiKeysRecord;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/** API keys in PostgreSQL ({@code api_keys}, migration V6): only SHA-256 hashes of the secrets. */
public final class ApiKeyStore {

    private final DSLContext db;
    private final Clock clock;

    public ApiKeyStore(DataSource dataSource, Clock clock) {
        this(DSL.using(dataSource, SQLDialect.POSTGRES), clock);
    }

    /** On a service's existing jOOQ context (and so its connection pool). */
    public ApiKeyStore(DSLContext db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** Creates a key; the returned secret is shown once and is not recoverable afterwards. */
    public IssuedApiKey issue(String name, Collection<String> scopes) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("an API key needs a name");
        }
        Set<String> checked = new TreeSet<>(scopes);
        if (checked.isEmpty()) {
            throw new IllegalArgumentException("an API key needs at least one scope, one of " + new TreeSet<>(ApiKeyScopes.ALL));
        }
        for (String scope : checked) {
            if (!ApiKeyScopes.ALL.contains(scope)) {
                throw new IllegalArgumentException(
                        "unknown scope '" + scope + "', expected one of " + new TreeSet<>(ApiKeyScopes.ALL));
            }
        }
        String secret = ApiKeySecrets.generate();
        ApiKeysRecord row = db.insertInto(API_KEYS)
                .set(API_KEYS.NAME, name.strip())
                .set(API_KEYS.KEY_PREFIX, ApiKeySecrets.prefix(secret))
                .set(API_KEYS.KEY_HASH, ApiKeySecrets.hash(secret))
                .set(API_KEYS.SCOPES, checked.toArray(String[]::new))
                .set(API_KEYS.CREATED_AT, now())
                .returning()
                .fetchSingle();
        return new IssuedApiKey(toApiKey(row), secret);
    }

    /** The key whose secret this is, revoked or not; empty when no key has this secret. */
    public Optional<ApiKey> findBySecret(String secret) {
        return db.selectFrom(API_KEYS)
                .where(API_KEYS.KEY_HASH.eq(ApiKeySecrets.hash(secret)))
                .fetchOptional()
                .map(ApiKeyStore::toApiKey);
    }

    /**
     * Revokes the active key identified by its prefix (as printed at creation) or its numeric id.
     *
     * @return the revoked key, or empty when no active key matches
     * @throws IllegalArgumentException when a prefix matches more than one active key
     */
    public Optional<ApiKey> revoke(String prefixOrId) {
        var identifies = prefixOrId.chars().allMatch(Character::isDigit)
                ? API_KEYS.ID.eq(Long.parseLong(prefixOrId))
                : API_KEYS.KEY_PREFIX.eq(prefixOrId);
        return db.transactionResult(tx -> {
            List<ApiKeysRecord> revoked = tx.dsl().update(API_KEYS)
                    .set(API_KEYS.REVOKED_AT, now())
                    .where(identifies.and(API_KEYS.REVOKED_AT.isNull()))
                    .returning()
                    .fetch();
            if (revoked.size() > 1) {
                throw new IllegalArgumentException(
                        "'" + prefixOrId + "' matches " + revoked.size() + " active keys; revoke by id instead");
            }
            return revoked.stream().findFirst().map(ApiKeyStore::toApiKey);
        });
    }

    /** Whether the database answers a trivial query: the key store's readiness. */
    public boolean reachable() {
        try {
            db.selectOne().fetch();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Every key, newest first. */
    public List<ApiKey> list() {
        return db.selectFrom(API_KEYS).orderBy(API_KEYS.ID.desc()).fetch(ApiKeyStore::toApiKey);
    }

    private OffsetDateTime now() {
        return OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
    }

    private static ApiKey toApiKey(ApiKeysRecord row) {
        return new ApiKey(
                row.getId(),
                row.getName(),
                row.getKeyPrefix(),
                Set.copyOf(Arrays.asList(row.getScopes())),
                row.getCreatedAt().toInstant(),
                row.getRevokedAt() == null ? null : row.getRevokedAt().toInstant());
    }
}
