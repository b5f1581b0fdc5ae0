package io.usagemeter.cli;

import com.zaxxer.hikari.HikariDataSource;
import io.usagemeter.kit.DatabasePool;
import io.usagemeter.kit.keys.ApiKey;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.kit.keys.IssuedApiKey;
import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code meter admin create-api-key | revoke-api-key}: API keys in the database named by
 * {@code METER_DB_URL}, {@code METER_DB_USER} and {@code METER_DB_PASSWORD} (the services' database).
 */
final class ApiKeyCommands {

    private ApiKeyCommands() {}

    /** Runs {@code use} on the key store of the services' database, through a pool of one connection closed after it. */
    static <T> T withStore(Map<String, String> env, Function<ApiKeyStore, T> use) {
        DatabaseSettings db = DatabaseSettings.from(MeterEnvironment.of(env), "the database holding API keys");
        try (HikariDataSource dataSource = DatabasePool.open("meter-admin-keys", db.url(),
                db.user().isBlank() ? "postgres" : db.user(), db.password(), 1, Duration.ofSeconds(30))) {
            return use.apply(new ApiKeyStore(dataSource, Clock.systemUTC()));
        }
    }

    @Command(name = "create-api-key", mixinStandardHelpOptions = true,
            description = "Create an API key (ingest writes, limit reads) and print it once (only its hash is stored).")
    static final class Create implements Callable<Integer> {
        private final Map<String, String> env;

        @Spec
        CommandSpec spec;

        Create() {
            this(System.getenv());
        }

        /** With {@code env} in place of the process environment (tests). */
        Create(Map<String, String> env) {
            this.env = env;
        }

        @Parameters(index = "0", paramLabel = "NAME", description = "Who or what uses the key, e.g. the app's name.")
        String name;

        @Option(names = "--scope", paramLabel = "SCOPE", split = ",",
                description = "events:write, referrals:write and/or limits:read (repeatable or comma-separated;"
                        + " default: events:write).")
        List<String> scopes = List.of(ApiKeyScopes.EVENTS_WRITE);

        @Override
        public Integer call() {
            IssuedApiKey issued = withStore(env, store -> store.issue(name, scopes));
            ApiKey key = issued.key();
            spec.commandLine().getErr().println("created API key " + key.id() + " '" + key.name() + "' (prefix "
                    + key.prefix() + ", scopes " + String.join(",", key.scopes().stream().sorted().toList())
                    + "); it is shown once, store it now:");
            spec.commandLine().getOut().println(issued.secret());
            return 0;
        }
    }

    @Command(name = "revoke-api-key", mixinStandardHelpOptions = true, description = "Revoke an API key by its prefix or id; it stops working within the key cache TTL.")
    static final class Revoke implements Callable<Integer> {
        private final Map<String, String> env;

        @Spec
        CommandSpec spec;

        Revoke() {
            this(System.getenv());
        }

        /** With {@code env} in place of the process environment (tests). */
        Revoke(Map<String, String> env) {
            this.env = env;
        }

        @Parameters(index = "0", paramLabel = "PREFIX_OR_ID", description = "The key's prefix (as printed at creation) or its id.")
        String prefixOrId;

        @Override
        public Integer call() {
            Optional<ApiKey> revoked = withStore(env, store -> store.revoke(prefixOrId));
            if (revoked.isEmpty()) {
                spec.commandLine().getErr().println("meter admin revoke-api-key: no active key matches '" + prefixOrId + "'");
                return 1;
            }
            spec.commandLine().getOut().println("revoked API key " + revoked.get().id() + " '" + revoked.get().name() + "'");
            return 0;
        }
    }
}
