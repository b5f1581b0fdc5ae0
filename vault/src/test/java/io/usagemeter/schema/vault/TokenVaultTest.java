package io.usagemeter.schema.vault;

import static io.usagemeter.schema.vault.UserTokenTable.CIPHERTEXT;
import static io.usagemeter.schema.vault.UserTokenTable.KEY_ID;
import static io.usagemeter.schema.vault.UserTokenTable.NONCE;
import static io.usagemeter.schema.vault.UserTokenTable.PROVIDER;
import static io.usagemeter.schema.vault.UserTokenTable.ROTATED_AT;
import static io.usagemeter.schema.vault.UserTokenTable.SCHEME;
import static io.usagemeter.schema.vault.UserTokenTable.USER_ID;
import static io.usagemeter.schema.vault.UserTokenTable.USER_TOKENS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.name;
import static org.jooq.impl.DSL.table;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.usagemeter.embedded.TestStack;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.sql.DataSource;
import io.usagemeter.schema.FlywayMigrations;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.jooq.impl.SQLDataType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class TokenVaultTest {

    private static final SecureRandom RANDOM = new SecureRandom();

    private static TestStack postgres;
    private static DSLContext db;
    private static ListAppender<ILoggingEvent> logs;
    /** Every token a test stored: none may ever appear in a log line. */
    private static final List<String> tokensUsed = new ArrayList<>();

    @BeforeAll
    static void startDatabase() {
        postgres = TestStack.withSharedBroker();
        postgres.jdbcUrl("vault");
        DataSource ds = postgres.dataSource("vault");
        FlywayMigrations.flyway(ds).migrate();
        db = DSL.using(ds, SQLDialect.POSTGRES);
        logs = new ListAppender<>();
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    }

    @AfterAll
    static void stopDatabase() {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
        if (postgres != null) {
            postgres.close();
        }
    }

    @BeforeEach
    void emptyTables() {
        db.truncate(table(name("users"))).cascade().execute();
    }

    @AfterEach
    void noTokenInLogs() {
        for (ILoggingEvent event : logs.list) {
            String line = event.getFormattedMessage()
                    + (event.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(event.getThrowableProxy()));
            for (String token : tokensUsed) {
                assertThat(line).doesNotContain(token);
            }
        }
        logs.list.clear();
    }

    @Test
    void everyProviderRoundTrips() {
        TokenVault vault = vault(TokenKeyset.generate());
        UUID user = newUser();
        Map<TokenProvider, String> stored = new EnumMap<>(TokenProvider.class);
        for (TokenProvider provider : TokenProvider.values()) {
            stored.put(provider, token(provider));
            vault.put(user, provider, stored.get(provider));
        }
        for (TokenProvider provider : TokenProvider.values()) {
            assertThat(vault.reveal(user, provider, "test")).contains(stored.get(provider));
        }
        assertThat(vault.list(user)).extracting(TokenSummary::provider)
                .containsExactlyInAnyOrder(TokenProvider.values());
        assertThat(vault.list(user)).allSatisfy(s -> {
            assertThat(s.keyId()).isEqualTo(vault.keyset().primaryKeyId());
            assertThat(s.fingerprint()).matches("[0-9a-f]{8}").isEqualTo(sha256Prefix(stored.get(s.provider())));
        });
        // The stored bytes are not the token, and the row's key id is the one in the ciphertext's prefix.
        byte[] ciphertext = db.select(CIPHERTEXT).from(USER_TOKENS)
                .where(USER_ID.eq(user).and(PROVIDER.eq("github"))).fetchSingle().value1();
        assertThat(new String(ciphertext, StandardCharsets.ISO_8859_1)).doesNotContain(stored.get(TokenProvider.GITHUB));
        assertThat(TokenKeyset.keyIdOf(ciphertext)).isEqualTo(vault.keyset().primaryKeyId());
    }

    @Test
    void putReplacesAndDeleteRemoves() {
        TokenVault vault = vault(TokenKeyset.generate());
        UUID user = newUser();
        vault.put(user, TokenProvider.OPENAI, token(TokenProvider.OPENAI));
        String second = token(TokenProvider.OPENAI);
        vault.put(user, TokenProvider.OPENAI, second);
        assertThat(vault.reveal(user, TokenProvider.OPENAI, "test")).contains(second);
        assertThat(vault.delete(user, TokenProvider.OPENAI)).isTrue();
        assertThat(vault.delete(user, TokenProvider.OPENAI)).isFalse();
        assertThat(vault.reveal(user, TokenProvider.OPENAI, "test")).isEmpty();
        assertThatThrownBy(() -> vault.put(UUID.randomUUID(), TokenProvider.OPENAI, token(TokenProvider.OPENAI)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("no user ");
    }

    @Test
    void ciphertextMovedToAnotherUserOrProviderDoesNotDecrypt() {
        TokenVault vault = vault(TokenKeyset.generate());
        UUID alice = newUser();
        UUID bob = newUser();
        vault.put(alice, TokenProvider.GITHUB, token(TokenProvider.GITHUB));
        vault.put(alice, TokenProvider.OPENAI, token(TokenProvider.OPENAI));
        vault.put(bob, TokenProvider.GITHUB, token(TokenProvider.GITHUB));
        byte[] aliceGithub = ciphertextOf(alice, TokenProvider.GITHUB);

        setCiphertext(bob, TokenProvider.GITHUB, aliceGithub);
        assertThatThrownBy(() -> vault.reveal(bob, TokenProvider.GITHUB, "test"))
                .isInstanceOf(TokenUnreadableException.class).hasMessageContaining(bob.toString());

        setCiphertext(alice, TokenProvider.OPENAI, aliceGithub);
        assertThatThrownBy(() -> vault.reveal(alice, TokenProvider.OPENAI, "test"))
                .isInstanceOf(TokenUnreadableException.class);
        assertThat(vault.list(alice)).filteredOn(s -> s.provider() == TokenProvider.OPENAI)
                .extracting(TokenSummary::fingerprint).containsExactly(TokenSummary.UNREADABLE);
    }

    @Test
    void flippedByteDoesNotDecrypt() {
        TokenVault vault = vault(TokenKeyset.generate());
        UUID user = newUser();
        vault.put(user, TokenProvider.ANTHROPIC, token(TokenProvider.ANTHROPIC));
        byte[] original = ciphertextOf(user, TokenProvider.ANTHROPIC);
        for (int position : new int[] {0, 3, 5, 12, original.length / 2, original.length - 1}) {
            byte[] altered = original.clone();
            altered[position] ^= 0x01;
            setCiphertext(user, TokenProvider.ANTHROPIC, altered);
            assertThatThrownBy(() -> vault.reveal(user, TokenProvider.ANTHROPIC, "test"))
                    .as("byte %d flipped", position)
                    .isInstanceOf(TokenUnreadableException.class);
        }
    }

    @Test
    void rotationReadsOldRowsThenReEncryptsAllInResumableBatches() {
        TokenKeyset key1 = TokenKeyset.generate();
        TokenVault before = vault(key1);
        Map<UUID, String> tokens = new LinkedHashMap<>();
        for (int i = 0; i < 7; i++) {
            UUID user = newUser();
            tokens.put(user, token(TokenProvider.GEMINI));
            before.put(user, TokenProvider.GEMINI, tokens.get(user));
        }
        long oldKey = key1.primaryKeyId();

        TokenKeyset key2 = key1.withNewPrimary();
        long newKey = key2.primaryKeyId();
        assertThat(key2.keyIds()).containsExactlyInAnyOrder(oldKey, newKey);
        TokenVault after = vault(key2);
        tokens.forEach((user, token) -> assertThat(after.reveal(user, TokenProvider.GEMINI, "test")).contains(token));
        UUID late = newUser();
        tokens.put(late, token(TokenProvider.GEMINI));
        after.put(late, TokenProvider.GEMINI, tokens.get(late));
        assertThat(keyIdsInTable()).containsEntry(oldKey, 7L).containsEntry(newKey, 1L);

        // Interrupted after the first batch: three rows moved, the rest still readable under the old key.
        ResealReport first = after.rotate(3, 1);
        assertThat(first.batches()).isEqualTo(1);
        assertThat(first.resealed()).isEqualTo(3);
        assertThat(first.remaining()).isEqualTo(4);
        assertThat(first.complete()).isFalse();
        assertThat(keyIdsInTable()).containsEntry(oldKey, 4L).containsEntry(newKey, 4L);
        tokens.forEach((user, token) -> assertThat(after.reveal(user, TokenProvider.GEMINI, "test")).contains(token));

        ResealReport resumed = after.rotate(3, Long.MAX_VALUE);
        assertThat(resumed.resealed()).isEqualTo(4);
        assertThat(resumed.batches()).isEqualTo(2);
        assertThat(resumed.complete()).isTrue();
        assertThat(keyIdsInTable()).containsExactly(Map.entry(newKey, 8L));
        assertThat(db.fetchCount(USER_TOKENS, ROTATED_AT.isNotNull())).isEqualTo(7);

        // Done: the old key can leave the keyset and every token still reads.
        TokenVault pruned = vault(key2.withoutKey(oldKey));
        tokens.forEach((user, token) -> assertThat(pruned.reveal(user, TokenProvider.GEMINI, "test")).contains(token));
        assertThat(pruned.rotate(3, Long.MAX_VALUE).resealed()).isZero();
        // Without the old key, a row still under it would be unreadable: the reason old keys stay until done.
        assertThatThrownBy(() -> vault(TokenKeyset.generate()).reveal(late, TokenProvider.GEMINI, "test"))
                .isInstanceOf(TokenUnreadableException.class);
    }

    @Test
    void legacyCbcRowsAreMigratedToGcmInResumableBatches(@TempDir Path dir) throws Exception {
        byte[] legacyKey = new byte[32];
        RANDOM.nextBytes(legacyKey);
        Map<UUID, String> tokens = new LinkedHashMap<>();
        for (int i = 0; i < 5; i++) {
            UUID user = newUser();
            tokens.put(user, token(TokenProvider.OPENAI));
            insertLegacyRow(legacyKey, user, TokenProvider.OPENAI, tokens.get(user));
        }
        TokenKeyset keyset = TokenKeyset.generate();
        TokenVault withoutLegacyKey = vault(keyset);
        assertThatThrownBy(() -> withoutLegacyKey.migrateLegacy(2, Long.MAX_VALUE))
                .isInstanceOf(VaultConfigException.class).hasMessageContaining("METER_LEGACY_TOKEN_KEY");
        assertThatThrownBy(() -> withoutLegacyKey.reveal(tokens.keySet().iterator().next(), TokenProvider.OPENAI, "t"))
                .isInstanceOf(TokenUnreadableException.class).hasMessageContaining("migrate-legacy");

        // A wrong legacy key fails the batch (padding or plaintext check) and changes nothing.
        byte[] wrongKey = legacyKey.clone();
        wrongKey[0] ^= 0x01;
        TokenVault withWrongKey = TokenVault.fromEnvironment(db, Map.of(TokenKeyset.VARIABLE, keyset.toJson(),
                LegacyTokenCipher.VARIABLE, HexFormat.of().formatHex(wrongKey)));
        assertThatThrownBy(() -> withWrongKey.migrateLegacy(10, Long.MAX_VALUE))
                .isInstanceOf(TokenUnreadableException.class).hasMessageContaining("METER_LEGACY_TOKEN_KEY");
        assertThat(db.fetchCount(USER_TOKENS, SCHEME.eq(UserTokenTable.SCHEME_LEGACY))).isEqualTo(5);

        Path keysetFile = dir.resolve("keyset.json");
        Files.writeString(keysetFile, keyset.toJson());
        TokenVault vault = TokenVault.fromEnvironment(db, Map.of(
                TokenKeyset.VARIABLE, keysetFile.toString(),
                LegacyTokenCipher.VARIABLE, HexFormat.of().formatHex(legacyKey)));
        // Legacy rows stay readable while they wait for migration.
        tokens.forEach((user, token) -> assertThat(vault.reveal(user, TokenProvider.OPENAI, "test")).contains(token));
        assertThat(vault.rotate(10, Long.MAX_VALUE).resealed()).as("rotate leaves legacy rows alone").isZero();

        ResealReport first = vault.migrateLegacy(2, 1);
        assertThat(first.resealed()).isEqualTo(2);
        assertThat(first.remaining()).isEqualTo(3);
        ResealReport rest = vault.migrateLegacy(2, Long.MAX_VALUE);
        assertThat(rest.resealed()).isEqualTo(3);
        assertThat(rest.complete()).isTrue();

        assertThat(db.fetchCount(USER_TOKENS, SCHEME.eq(UserTokenTable.SCHEME_LEGACY))).isZero();
        assertThat(db.fetchCount(USER_TOKENS, NONCE.isNotNull())).isZero();
        assertThat(keyIdsInTable()).containsExactly(Map.entry(keyset.primaryKeyId(), 5L));
        // Migrated rows read with the keyset alone.
        tokens.forEach((user, token) ->
                assertThat(withoutLegacyKey.reveal(user, TokenProvider.OPENAI, "test")).contains(token));

        String base64Key = java.util.Base64.getEncoder().encodeToString(legacyKey);
        assertThat(LegacyTokenCipher.fromEnvironment(Map.of(LegacyTokenCipher.VARIABLE, base64Key))).isPresent();
        assertThatThrownBy(() -> LegacyTokenCipher.fromEnvironment(Map.of(LegacyTokenCipher.VARIABLE, "abc")))
                .isInstanceOf(VaultConfigException.class).hasMessageContaining("METER_LEGACY_TOKEN_KEY");
    }

    @Test
    void revealIsAuditedWithoutTheToken() {
        TokenVault vault = vault(TokenKeyset.generate());
        UUID user = newUser();
        String token = token(TokenProvider.GITHUB);
        vault.put(user, TokenProvider.GITHUB, token);
        vault.reveal(user, TokenProvider.GITHUB, "ingest-proxy");
        assertThat(logs.list).anySatisfy(e -> {
            assertThat(e.getLoggerName()).isEqualTo("io.usagemeter.audit.tokens");
            assertThat(e.getFormattedMessage())
                    .contains("user=" + user, "provider=github", "caller=ingest-proxy", "outcome=revealed");
        });
        assertThatThrownBy(() -> vault.reveal(user, TokenProvider.GITHUB, " "))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void missingOrMalformedKeysetNamesTheVariable(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> TokenKeyset.fromEnvironment(Map.of()))
                .isInstanceOf(VaultConfigException.class).hasMessageStartingWith("METER_TOKEN_KEYSET is not set");
        String secretLooking = "{\"primaryKeyId\": 1, \"key\": [{\"value\": \"c2VjcmV0LXNlY3JldA==\"";
        assertThatThrownBy(() -> TokenKeyset.fromEnvironment(Map.of(TokenKeyset.VARIABLE, secretLooking)))
                .isInstanceOf(VaultConfigException.class)
                .hasMessageContaining("METER_TOKEN_KEYSET")
                .message().doesNotContain("c2VjcmV0");
        assertThatThrownBy(() -> TokenKeyset.fromEnvironment(
                        Map.of(TokenKeyset.VARIABLE, dir.resolve("absent.json").toString())))
                .isInstanceOf(VaultConfigException.class).hasMessageContaining("METER_TOKEN_KEYSET");
        Path notAKeyset = Files.writeString(dir.resolve("k.json"), "[]");
        assertThatThrownBy(() -> TokenKeyset.fromEnvironment(Map.of(TokenKeyset.VARIABLE, notAKeyset.toString())))
                .isInstanceOf(VaultConfigException.class).hasMessageContaining("METER_TOKEN_KEYSET");
        // A valid Tink keyset of the wrong kind (AES-128) is refused too.
        String aes128 = com.google.crypto.tink.TinkJsonProtoKeysetFormat.serializeKeyset(
                com.google.crypto.tink.KeysetHandle.generateNew(
                        com.google.crypto.tink.aead.PredefinedAeadParameters.AES128_GCM),
                com.google.crypto.tink.InsecureSecretKeyAccess.get());
        assertThatThrownBy(() -> TokenKeyset.fromEnvironment(Map.of(TokenKeyset.VARIABLE, aes128)))
                .isInstanceOf(VaultConfigException.class).hasMessageContaining("METER_TOKEN_KEYSET", "AES-256-GCM");
        // And a good one parses back to the same keys, inline or from a file.
        TokenKeyset keyset = TokenKeyset.generate().withNewPrimary();
        Path file = Files.writeString(dir.resolve("good.json"), keyset.toJson());
        assertThat(TokenKeyset.fromEnvironment(Map.of(TokenKeyset.VARIABLE, keyset.toJson())).keyIds())
                .isEqualTo(keyset.keyIds());
        assertThat(TokenKeyset.fromEnvironment(Map.of(TokenKeyset.VARIABLE, file.toString())).primaryKeyId())
                .isEqualTo(keyset.primaryKeyId());
    }

    private static TokenVault vault(TokenKeyset keyset) {
        return new TokenVault(db, keyset, Optional.empty());
    }

    private static UUID newUser() {
        UUID id = UUID.randomUUID();
        db.insertInto(table(name("users")), field(name("id"), SQLDataType.UUID)).values(id).execute();
        return id;
    }

    /** A token shaped like the provider's, made at run time so no credential-looking literal is committed. */
    static String token(TokenProvider provider) {
        String prefix = switch (provider) {
            case GITHUB -> "gh" + "p_";
            case OPENAI -> "s" + "k-proj-";
            case ANTHROPIC -> "s" + "k-ant-api03-";
            case GEMINI -> "AI" + "za";
        };
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder token = new StringBuilder(prefix);
        for (int i = 0; i < (provider == TokenProvider.GEMINI ? 35 : 36); i++) {
            token.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        }
        tokensUsed.add(token.toString());
        return token.toString();
    }

    private static String sha256Prefix(String token) {
        try {
            return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.UTF_8)), 0, 4);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] ciphertextOf(UUID user, TokenProvider provider) {
        return db.select(CIPHERTEXT).from(USER_TOKENS)
                .where(USER_ID.eq(user).and(PROVIDER.eq(provider.wireName()))).fetchSingle().value1();
    }

    private static void setCiphertext(UUID user, TokenProvider provider, byte[] ciphertext) {
        db.update(USER_TOKENS).set(CIPHERTEXT, ciphertext)
                .where(USER_ID.eq(user).and(PROVIDER.eq(provider.wireName()))).execute();
    }

    private static Map<Long, Long> keyIdsInTable() {
        Map<Long, Long> counts = new LinkedHashMap<>();
        db.select(KEY_ID, DSL.count()).from(USER_TOKENS).groupBy(KEY_ID).orderBy(KEY_ID)
                .forEach(r -> counts.put(r.value1(), r.value2().longValue()));
        return counts;
    }

    /** A row as the older system wrote it: AES-256-CBC, PKCS#7 padding, random IV in nonce, key id 0. */
    static void insertLegacyRow(byte[] legacyKey, UUID user, TokenProvider provider, String token) throws Exception {
        byte[] iv = new byte[16];
        RANDOM.nextBytes(iv);
        Cipher cbc = Cipher.getInstance("AES/CBC/PKCS5Padding");
        cbc.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(legacyKey, "AES"), new IvParameterSpec(iv));
        db.insertInto(USER_TOKENS)
                .set(USER_ID, user)
                .set(PROVIDER, provider.wireName())
                .set(CIPHERTEXT, cbc.doFinal(token.getBytes(StandardCharsets.UTF_8)))
                .set(NONCE, iv)
                .set(KEY_ID, 0L)
                .set(SCHEME, UserTokenTable.SCHEME_LEGACY)
                .execute();
    }
}
