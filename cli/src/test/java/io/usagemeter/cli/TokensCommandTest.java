package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.name;
import static org.jooq.impl.DSL.table;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.vault.TokenKeyset;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
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

class TokensCommandTest {

    private static final SecureRandom RANDOM = new SecureRandom();

    private static TestStack postgres;
    private static DSLContext db;
    private static String dbUrl;
    private static ListAppender<ILoggingEvent> logs;
    private static final List<String> tokensUsed = new ArrayList<>();

    @TempDir
    Path dir;

    private Path keysetFile;
    private Map<String, String> env;

    record Result(int exitCode, String out, String err) {}

    @BeforeAll
    static void startDatabase() {
        postgres = TestStack.withSharedBroker();
        dbUrl = postgres.jdbcUrl("vault_cli");
        DataSource ds = postgres.dataSource("vault_cli");
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
    void keysetAndEnvironment() throws Exception {
        db.truncate(table(name("users"))).cascade().execute();
        Result keygen = run(Map.of(), "", "tokens", "keygen");
        keysetFile = Files.writeString(dir.resolve("keyset.json"), keygen.out());
        env = new HashMap<>(Map.of(
                "METER_TOKEN_KEYSET", keysetFile.toString(),
                "METER_DB_URL", dbUrl,
                "METER_DB_USER", postgres.user(), "METER_DB_PASSWORD", postgres.password()));
    }

    @AfterEach
    void noTokenInLogs() {
        for (ILoggingEvent event : logs.list) {
            String line = event.getFormattedMessage()
                    + (event.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(event.getThrowableProxy()));
            tokensUsed.forEach(token -> assertThat(line).doesNotContain(token));
        }
        logs.list.clear();
    }

    @Test
    void keygenPrintsAKeysetAndWarnsThatItIsSecret() throws Exception {
        Result result = run(Map.of(), "", "tokens", "keygen");
        assertThat(result.exitCode()).isZero();
        assertThat(result.err()).contains("SECRET").contains("METER_TOKEN_KEYSET");
        TokenKeyset keyset = TokenKeyset.fromEnvironment(Map.of("METER_TOKEN_KEYSET", result.out()));
        assertThat(keyset.keyIds()).hasSize(1);

        TokenKeyset original = TokenKeyset.fromFile(keysetFile);
        Result added = run(Map.of(), "", "tokens", "keygen", "--add-to", keysetFile.toString());
        assertThat(added.exitCode()).as(added.err()).isZero();
        TokenKeyset rotated = TokenKeyset.fromFile(keysetFile);
        assertThat(rotated.keyIds()).hasSize(2).containsAll(original.keyIds());
        assertThat(added.out()).contains("added key " + rotated.primaryKeyId() + " as primary");
        assertThat(added.out()).doesNotContain("keyMaterialType").doesNotContain("\"value\"");
        assertThat(Files.getPosixFilePermissions(keysetFile)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(original.primaryKeyId()).isNotEqualTo(rotated.primaryKeyId());
    }

    @Test
    void putListDeleteNeverShowTheToken() {
        UUID user = newUser();
        String token = token("gh" + "p_");
        Result put = run(env, token + "\n", "tokens", "put", user.toString(), "github");
        assertThat(put.exitCode()).as(put.err()).isZero();
        assertThat(put.out()).startsWith("stored github token for user " + user);

        Result list = run(env, "", "tokens", "list", user.toString());
        assertThat(list.exitCode()).as(list.err()).isZero();
        long key = TokenKeyset.fromFile(keysetFile).primaryKeyId();
        assertThat(list.out()).contains("github", "tink-aes256-gcm", Long.toString(key), sha256Prefix(token));

        Result asArgument = run(env, "", "tokens", "put", user.toString(), "openai", token);
        assertThat(asArgument.exitCode()).isNotZero();
        assertThat(asArgument.err()).contains("standard input");

        Result delete = run(env, "", "tokens", "delete", user.toString(), "github");
        assertThat(delete.out()).startsWith("deleted github token of user " + user);
        assertThat(run(env, "", "tokens", "list", user.toString()).out()).startsWith("no tokens stored");

        for (Result r : List.of(put, list, asArgument, delete)) {
            assertThat(r.out()).doesNotContain(token);
            assertThat(r.err()).doesNotContain(token);
        }
        assertThat(logs.list).anySatisfy(e -> assertThat(e.getFormattedMessage())
                .contains("token stored: user=" + user + " provider=github"));
    }

    @Test
    void rotateAfterAddingAKeyReEncryptsEveryRowResumably() {
        List<UUID> users = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            UUID user = newUser();
            users.add(user);
            assertThat(run(env, token("s" + "k-proj-"), "tokens", "put", user.toString(), "openai").exitCode()).isZero();
        }
        long oldKey = TokenKeyset.fromFile(keysetFile).primaryKeyId();
        assertThat(run(Map.of(), "", "tokens", "keygen", "--add-to", keysetFile.toString()).exitCode()).isZero();
        long newKey = TokenKeyset.fromFile(keysetFile).primaryKeyId();

        Result firstBatch = run(env, "", "tokens", "rotate", "--batch-size", "2", "--max-batches", "1");
        assertThat(firstBatch.exitCode()).as(firstBatch.err()).isEqualTo(3);
        assertThat(firstBatch.out()).contains("re-encrypted 2 tokens in 1 batches", "3 remaining");
        assertThat(keyIds()).containsExactlyInAnyOrder(oldKey, oldKey, oldKey, newKey, newKey);
        // Mid-rotation every token still lists with a fingerprint (decrypts).
        for (UUID user : users) {
            assertThat(run(env, "", "tokens", "list", user.toString()).exitCode()).isZero();
        }
        Result tooEarly = run(env, "", "tokens", "retire-key", Long.toString(oldKey));
        assertThat(tooEarly.exitCode()).isEqualTo(1);
        assertThat(tooEarly.err()).contains("3 token(s) are still encrypted under key " + oldKey);
        assertThat(TokenKeyset.fromFile(keysetFile).keyIds()).contains(oldKey);

        Result rest = run(env, "", "tokens", "rotate", "--batch-size", "2");
        assertThat(rest.exitCode()).as(rest.err()).isZero();
        assertThat(rest.out()).contains("re-encrypted 3 tokens in 2 batches", "0 remaining");
        assertThat(keyIds()).containsOnly(newKey).hasSize(5);

        Result retired = run(env, "", "tokens", "retire-key", Long.toString(oldKey));
        assertThat(retired.exitCode()).as(retired.err()).isZero();
        assertThat(TokenKeyset.fromFile(keysetFile).keyIds()).containsExactly(newKey);
        assertThat(run(env, "", "tokens", "retire-key", Long.toString(newKey)).err()).contains("primary key");
        for (UUID user : users) {
            assertThat(run(env, "", "tokens", "list", user.toString()).exitCode()).isZero();
        }
    }

    @Test
    void migrateLegacyMovesCbcRowsToGcm() throws Exception {
        byte[] legacyKey = new byte[32];
        RANDOM.nextBytes(legacyKey);
        UUID user = newUser();
        String token = token("s" + "k-ant-api03-");
        byte[] iv = new byte[16];
        RANDOM.nextBytes(iv);
        Cipher cbc = Cipher.getInstance("AES/CBC/PKCS5Padding");
        cbc.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(legacyKey, "AES"), new IvParameterSpec(iv));
        db.insertInto(table(name("user_tokens")),
                        field(name("user_id"), SQLDataType.UUID), field(name("provider"), SQLDataType.CLOB),
                        field(name("ciphertext"), SQLDataType.BLOB), field(name("nonce"), SQLDataType.BLOB),
                        field(name("key_id"), SQLDataType.BIGINT), field(name("scheme"), SQLDataType.CLOB))
                .values(user, "anthropic", cbc.doFinal(token.getBytes(StandardCharsets.UTF_8)), iv, 0L,
                        "legacy-aes256-cbc")
                .execute();

        Result noKey = run(env, "", "tokens", "migrate-legacy");
        assertThat(noKey.exitCode()).isEqualTo(1);
        assertThat(noKey.err()).contains("METER_LEGACY_TOKEN_KEY");

        env.put("METER_LEGACY_TOKEN_KEY", HexFormat.of().formatHex(legacyKey));
        Result migrated = run(env, "", "tokens", "migrate-legacy", "--batch-size", "10");
        assertThat(migrated.exitCode()).as(migrated.err()).isZero();
        assertThat(migrated.out()).contains("re-encrypted 1 tokens");
        env.remove("METER_LEGACY_TOKEN_KEY");
        Result list = run(env, "", "tokens", "list", user.toString());
        assertThat(list.out()).contains("tink-aes256-gcm", sha256Prefix(token)).doesNotContain(token);
        assertThat(keyIds()).containsExactly(TokenKeyset.fromFile(keysetFile).primaryKeyId());
    }

    @Test
    void missingOrMalformedSettingsGiveOneLineNamingTheVariable() throws Exception {
        UUID user = newUser();
        Map<String, String> noKeyset = new HashMap<>(env);
        noKeyset.remove("METER_TOKEN_KEYSET");
        Map<String, String> badKeyset = new HashMap<>(env);
        badKeyset.put("METER_TOKEN_KEYSET", "{\"primaryKeyId\": 12, \"key\": []");
        Map<String, String> missingFile = new HashMap<>(env);
        missingFile.put("METER_TOKEN_KEYSET", dir.resolve("nope.json").toString());
        Map<String, String> noDatabase = new HashMap<>(env);
        noDatabase.remove("METER_DB_URL");

        for (Map<String, String> broken : List.of(noKeyset, badKeyset, missingFile)) {
            Result r = run(broken, "", "tokens", "list", user.toString());
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err().lines()).hasSize(1);
            assertThat(r.err()).startsWith("meter tokens list: METER_TOKEN_KEYSET").doesNotContain("\tat ");
        }
        Result r = run(noDatabase, token("gh" + "p_"), "tokens", "put", user.toString(), "github");
        assertThat(r.err().lines()).hasSize(1);
        assertThat(r.err()).startsWith("meter tokens put: METER_DB_URL is not set");
    }

    @Test
    void jdbcUrlPasswordsAreMasked() {
        // Assembled at run time so the secret scanner has no credential-shaped literal to find.
        String secret = "hunter" + 2;
        assertThat(new ServiceDatabaseConfig("jdbc:postgresql://db:5432/meter?user=app&password=" + secret + "&ssl=true", "", "")
                .maskedUrl()).isEqualTo("jdbc:postgresql://db:5432/meter?user=app&password=****&ssl=true");
        assertThat(new ServiceDatabaseConfig("jdbc:postgresql://app:" + secret + "@db/meter", "", "").maskedUrl())
                .isEqualTo("jdbc:postgresql://app:****@db/meter");
    }

    private static Result run(Map<String, String> env, String stdin, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Meter.commandLine(env, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)))
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true))
                .execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    private static UUID newUser() {
        UUID id = UUID.randomUUID();
        db.insertInto(table(name("users")), field(name("id"), SQLDataType.UUID)).values(id).execute();
        return id;
    }

    private static List<Long> keyIds() {
        return db.select(field(name("key_id"), SQLDataType.BIGINT)).from(table(name("user_tokens"))).fetch().getValues(0, Long.class);
    }

    /** Built at run time from a split prefix, so no credential-shaped literal sits in the repository. */
    private static String token(String prefix) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder token = new StringBuilder(prefix);
        for (int i = 0; i < 36; i++) {
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
}
