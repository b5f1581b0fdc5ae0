package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Clock;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;
import picocli.CommandLine;

/** {@code meter admin create-api-key} and {@code revoke-api-key} against a real PostgreSQL. */
class ApiKeyCommandsTest {

    private static TestStack postgres;
    private static Map<String, String> env;
    private static ApiKeyStore store;

    @BeforeAll
    static void start() {
        postgres = TestStack.withSharedBroker();
        String url = postgres.jdbcUrl("meter");
        Flyway.configure().dataSource(url, postgres.user(), postgres.password())
                .locations("classpath:db/migration").load().migrate();
        env = Map.of("METER_DB_URL", url, "METER_DB_USER", postgres.user(), "METER_DB_PASSWORD", postgres.password());
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(url);
        ds.setUser(postgres.user());
        ds.setPassword(postgres.password());
        store = new ApiKeyStore(ds, Clock.systemUTC());
    }

    @AfterAll
    static void stop() {
        if (postgres != null) {
            if (postgres != null) {
                postgres.close();
            }
        }
    }

    private record Run(int exit, String out, String err) {}

    private static Run run(Object command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(command).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .setExecutionExceptionHandler(new OneLineErrors()).execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void createPrintsTheKeyOnceOnStdoutAndRevokeDisablesIt() {
        Run created = run(new ApiKeyCommands.Create(env), "billing-app", "--scope", "events:write,referrals:write");

        assertThat(created.exit()).isZero();
        String secret = created.out().strip();
        assertThat(secret).startsWith("um_").doesNotContain(" ");
        assertThat(created.err()).contains("billing-app").contains(secret.substring(0, 12)).doesNotContain(secret);
        assertThat(store.findBySecret(secret)).get().satisfies(k -> {
            assertThat(k.active()).isTrue();
            assertThat(k.scopes()).containsExactlyInAnyOrder(ApiKeyScopes.EVENTS_WRITE, ApiKeyScopes.REFERRALS_WRITE);
        });

        Run revoked = run(new ApiKeyCommands.Revoke(env), secret.substring(0, 12));
        assertThat(revoked.exit()).isZero();
        assertThat(store.findBySecret(secret)).get().satisfies(k -> assertThat(k.active()).isFalse());
        assertThat(run(new ApiKeyCommands.Revoke(env), secret.substring(0, 12)).exit()).isEqualTo(1);
    }

    @Test
    void anUnknownScopeOrAMissingDatabaseIsAOneLineError() {
        Run badScope = run(new ApiKeyCommands.Create(env), "app", "--scope", "everything");
        assertThat(badScope.exit()).isEqualTo(1);
        assertThat(badScope.err()).contains("unknown scope 'everything'");
        assertThat(badScope.out()).isEmpty();

        Run noDb = run(new ApiKeyCommands.Create(Map.of()), "app");
        assertThat(noDb.exit()).isEqualTo(1);
        assertThat(noDb.err()).contains("METER_DB_URL");
    }

    @Test
    void createCanGrantTheLimitsReadScope() {
        Run created = run(new ApiKeyCommands.Create(env), "limit-checker", "--scope", "limits:read");
        assertThat(created.exit()).as(created.err()).isZero();
        assertThat(store.findBySecret(created.out().strip())).get()
                .satisfies(k -> assertThat(k.scopes()).containsExactly(ApiKeyScopes.LIMITS_READ));
    }
}
