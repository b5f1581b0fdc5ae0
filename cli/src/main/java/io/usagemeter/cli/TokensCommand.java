package io.usagemeter.cli;

import io.usagemeter.schema.vault.LegacyTokenCipher;
import io.usagemeter.schema.vault.ResealReport;
import io.usagemeter.schema.vault.TokenKeyset;
import io.usagemeter.schema.vault.TokenProvider;
import io.usagemeter.schema.vault.TokenSummary;
import io.usagemeter.schema.vault.TokenVault;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meter tokens}: users' provider tokens in the encrypted vault. No verb prints a token; {@code put}
 * reads it from standard input so it stays out of shell history and process listings.
 */
@Command(
        name = "tokens",
        mixinStandardHelpOptions = true,
        description = "Manage users' encrypted provider tokens (keys from METER_TOKEN_KEYSET, database from METER_DB_URL).",
        subcommands = {
            TokensCommand.Keygen.class,
            TokensCommand.Put.class,
            TokensCommand.ListTokens.class,
            TokensCommand.Delete.class,
            TokensCommand.Rotate.class,
            TokensCommand.MigrateLegacy.class,
            TokensCommand.RetireKey.class,
        })
final class TokensCommand implements Runnable {

    private final Map<String, String> env;
    private final InputStream stdin;

    @Spec
    CommandLine.Model.CommandSpec spec;

    TokensCommand(Map<String, String> env, InputStream stdin) {
        this.env = Objects.requireNonNull(env);
        this.stdin = Objects.requireNonNull(stdin);
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Opens the vault (keyset first, so a bad keyset fails before any connection), runs {@code work}, closes. */
    int withVault(Function<TokenVault, Integer> work) {
        TokenKeyset keyset = TokenKeyset.fromEnvironment(env);
        Optional<LegacyTokenCipher> legacy = LegacyTokenCipher.fromEnvironment(env);
        ServiceDatabaseConfig database = ServiceDatabaseConfig.fromEnvironment(env);
        try (Connection connection = database.connect()) {
            return work.apply(new TokenVault(DSL.using(connection, SQLDialect.POSTGRES), keyset, legacy));
        } catch (SQLException e) {
            throw new IllegalStateException("database error: " + e.getMessage(), e);
        }
    }

    /** Replaces the file atomically, readable by its owner only, so a crash never leaves half a keyset. */
    private static void writeSecretFile(Path file, String content) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, ".keyset-", ".tmp");
        try {
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException notPosix) {
                // Windows: the directory's ACL applies.
            }
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            try {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    static final class ProviderConverter implements CommandLine.ITypeConverter<TokenProvider> {
        @Override
        public TokenProvider convert(String value) {
            return TokenProvider.fromWireName(value);
        }
    }

    private static String time(OffsetDateTime t) {
        return t == null ? "-" : t.withOffsetSameInstant(ZoneOffset.UTC).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
    }

    /** What every verb shares: the parent command (environment, standard input) and picocli's spec. */
    abstract static class TokensVerb implements Callable<Integer> {
        @ParentCommand
        TokensCommand tokens;

        @Spec
        CommandLine.Model.CommandSpec spec;

        PrintWriter out() {
            return spec.commandLine().getOut();
        }
    }

    /** A verb about one user's tokens. */
    abstract static class UserVerb extends TokensVerb {
        @Parameters(index = "0", paramLabel = "USER", description = "The user's id (UUID).")
        UUID user;
    }

    /** A verb about one user's token of one provider. */
    abstract static class UserProviderVerb extends UserVerb {
        @Parameters(index = "1", paramLabel = "PROVIDER", converter = ProviderConverter.class,
                description = "github, openai, anthropic or gemini.")
        TokenProvider provider;
    }

    @Command(name = "keygen", mixinStandardHelpOptions = true, description = {
        "Print a new AES-256-GCM keyset (JSON) for METER_TOKEN_KEYSET, or with --add-to add a new primary key",
        "to an existing keyset file for rotation. The keyset is a secret: never commit it."})
    static final class Keygen extends TokensVerb {
        @Option(names = "--add-to", paramLabel = "FILE",
                description = "Add a new primary key to this keyset file (old keys stay for decryption).")
        Path addTo;

        @Override
        public Integer call() throws IOException {
            PrintWriter out = out();
            PrintWriter err = spec.commandLine().getErr();
            if (addTo == null) {
                err.println("meter tokens keygen: the keyset below is a SECRET (cleartext key material): put it in"
                        + " METER_TOKEN_KEYSET or a mode-600 file named by it, never in the repository.");
                out.println(TokenKeyset.generate().toJson());
                return 0;
            }
            TokenKeyset rotated = TokenKeyset.fromFile(addTo).withNewPrimary();
            writeSecretFile(addTo, rotated.toJson());
            out.println("added key " + rotated.primaryKeyId() + " as primary to " + addTo + " (keys now: "
                    + rotated.keyIds() + ")");
            out.println("next: give every process the new keyset, then run `meter tokens rotate`;"
                    + " remove old keys only after rotate reports 0 remaining.");
            return 0;
        }
    }

    @Command(name = "put", mixinStandardHelpOptions = true, description = {
        "Store (or replace) USER's token for PROVIDER, read from standard input (never from an argument).",
        "Example: meter tokens put 7c9e... github < token-file"})
    static final class Put extends UserProviderVerb {
        /** Catches a token given as an argument so that it is refused without being echoed back. */
        @Parameters(index = "2..*", hidden = true)
        List<String> unexpected;

        @Override
        public Integer call() {
            if (unexpected != null && !unexpected.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "the token is read from standard input, not from an argument (arguments end up in shell"
                                + " history and process listings); argument(s) ignored, nothing stored");
            }
            // Keys and database are checked before the token is read, so a typed token is not wasted.
            return tokens.withVault(vault -> {
                vault.put(user, provider, readToken());
                TokenSummary stored = vault.list(user).stream()
                        .filter(s -> s.provider() == provider).findFirst().orElseThrow();
                out().println("stored " + provider.wireName() + " token for user " + user
                        + " (key " + stored.keyId() + ", fingerprint " + stored.fingerprint() + ")");
                return 0;
            });
        }

        private String readToken() {
            Console console = System.console();
            String input;
            if (console != null && tokens.stdin == System.in) {
                char[] typed = console.readPassword("%s token for user %s (input hidden): ", provider.wireName(), user);
                input = typed == null ? "" : new String(typed);
            } else {
                try {
                    input = new String(tokens.stdin.readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read the token from standard input", e);
                }
            }
            String token = input.strip();
            if (token.isEmpty()) {
                throw new IllegalArgumentException("no token on standard input");
            }
            if (token.chars().anyMatch(Character::isWhitespace)) {
                throw new IllegalArgumentException("standard input must hold exactly one token (found whitespace inside)");
            }
            return token;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = {
        "Show USER's stored tokens: provider, scheme, key id, times, fingerprint (never the token).",
        "Exit 1 when a token does not decrypt (shown as unreadable)."})
    static final class ListTokens extends UserVerb {
        @Override
        public Integer call() {
            return tokens.withVault(vault -> {
                PrintWriter out = out();
                List<TokenSummary> summaries = vault.list(user);
                if (summaries.isEmpty()) {
                    out.println("no tokens stored for user " + user);
                    return 0;
                }
                String format = "%-10s %-18s %-11s %-26s %-26s %s%n";
                out.printf(format, "PROVIDER", "SCHEME", "KEY_ID", "CREATED_AT", "ROTATED_AT", "FINGERPRINT");
                for (TokenSummary s : summaries) {
                    out.printf(format, s.provider().wireName(), s.scheme(), s.keyId(), time(s.createdAt()),
                            time(s.rotatedAt()), s.fingerprint());
                }
                out.println("fingerprint: first 8 hex digits of SHA-256 of the token (sha256sum < token-file | cut -c1-8)");
                return summaries.stream().anyMatch(s -> s.fingerprint().equals(TokenSummary.UNREADABLE)) ? 1 : 0;
            });
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete USER's token for PROVIDER.")
    static final class Delete extends UserProviderVerb {
        @Override
        public Integer call() {
            return tokens.withVault(vault -> {
                boolean deleted = vault.delete(user, provider);
                out().println(deleted
                        ? "deleted " + provider.wireName() + " token of user " + user
                        : "no " + provider.wireName() + " token stored for user " + user + "; nothing deleted");
                return 0;
            });
        }
    }

    abstract static class Reseal extends TokensVerb {
        @Option(names = "--batch-size", paramLabel = "N", defaultValue = "500",
                description = "Rows re-encrypted per transaction (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--max-batches", paramLabel = "N",
                description = "Stop after N batches (run again to resume); default: until done.")
        Long maxBatches;

        abstract ResealReport reseal(TokenVault vault);

        @Override
        public Integer call() {
            if (batchSize < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--batch-size must be at least 1");
            }
            return tokens.withVault(vault -> {
                ResealReport report = reseal(vault);
                PrintWriter out = out();
                out.println("re-encrypted " + report.resealed() + " tokens in " + report.batches()
                        + " batches under key " + report.primaryKeyId() + "; " + report.remaining() + " remaining");
                out.println("rows per key: " + (report.rowsPerKey().isEmpty() ? "none" : report.rowsPerKey()));
                if (!report.complete()) {
                    out.println("not finished: run the same command again to resume");
                    return 3;
                }
                return 0;
            });
        }

        long batchLimit() {
            return maxBatches == null ? Long.MAX_VALUE : maxBatches;
        }
    }

    @Command(name = "rotate", mixinStandardHelpOptions = true, description = {
        "Re-encrypt every token not under the keyset's primary key, in batches, each in its own transaction.",
        "Resumable: run again after an interruption. Exit 3 while rows remain."})
    static final class Rotate extends Reseal {
        @Override
        ResealReport reseal(TokenVault vault) {
            return vault.rotate(batchSize, batchLimit());
        }
    }

    @Command(name = "migrate-legacy", mixinStandardHelpOptions = true, description = {
        "Move tokens of the older AES-256-CBC scheme (key in METER_LEGACY_TOKEN_KEY) to AES-256-GCM under the",
        "primary key, in batches, resumably. Exit 3 while rows remain."})
    static final class MigrateLegacy extends Reseal {
        @Override
        ResealReport reseal(TokenVault vault) {
            return vault.migrateLegacy(batchSize, batchLimit());
        }
    }

    @Command(name = "retire-key", mixinStandardHelpOptions = true, description = {
        "Remove KEY_ID from the keyset once no token is encrypted under it (after rotate reports 0 remaining).",
        "Rewrites the file METER_TOKEN_KEYSET names; when it holds inline JSON, prints the new keyset instead."})
    static final class RetireKey extends TokensVerb {
        @Parameters(index = "0", paramLabel = "KEY_ID", description = "The key id, as `list` and `rotate` show it.")
        long keyId;

        @Override
        public Integer call() {
            return tokens.withVault(vault -> {
                TokenKeyset smaller = vault.keyset().withoutKey(keyId);
                long rows = vault.rowsPerKey().getOrDefault(Long.toString(keyId), 0L);
                if (rows > 0) {
                    throw new IllegalStateException(rows + " token(s) are still encrypted under key " + keyId
                            + ": run `meter tokens rotate` until it reports 0 remaining");
                }
                String source = tokens.env.get(TokenKeyset.VARIABLE).strip();
                PrintWriter out = out();
                if (source.startsWith("{")) {
                    spec.commandLine().getErr().println("meter tokens retire-key: the keyset below is a SECRET;"
                            + " put it in METER_TOKEN_KEYSET in place of the old one.");
                    out.println(smaller.toJson());
                } else {
                    try {
                        writeSecretFile(Path.of(source), smaller.toJson());
                    } catch (IOException e) {
                        throw new UncheckedIOException("cannot rewrite the keyset file METER_TOKEN_KEYSET names", e);
                    }
                    out.println("removed key " + keyId + " from " + source + " (keys now: " + smaller.keyIds() + ")");
                }
                return 0;
            });
        }
    }
}
