package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jwt.SignedJWT;
import io.usagemeter.kit.auth.AdminAuthenticator;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code meter admin token}: a token the enforcer accepts, with the lifetime asked for. */
class AdminTokenCommandTest {

    private static final String SECRET = "0123456789abcdef0123456789abcdef-test";
    private static final Map<String, String> ENV = Map.of("METER_ADMIN_JWT_SECRET", SECRET,
            "METER_ADMIN_EMAILS", "ops@example.com,admin@example.com");

    private record Run(int exit, String out, String err) {}

    private static Run run(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new AdminTokenCommand(env)).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .setExecutionExceptionHandler(new OneLineErrors()).execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void printsADayLongTokenTheEnforcerAccepts() throws Exception {
        Instant before = Instant.now();
        Run run = run(ENV);
        assertThat(run.exit()).as(run.err()).isZero();
        String token = run.out().strip();
        var claims = SignedJWT.parse(token).getJWTClaimsSet();
        assertThat(claims.getIssuer()).isEqualTo("usage-meter");
        assertThat(claims.getAudience()).containsExactly("usage-meter-admin");
        assertThat(claims.getStringClaim("email")).isEqualTo("ops@example.com");
        assertThat(claims.getExpirationTime()).isBetween(Date.from(before.plus(Duration.ofHours(24)).minusSeconds(1)),
                Date.from(Instant.now().plus(Duration.ofHours(24)).plusSeconds(1)));
        AdminAuthenticator enforcer = AdminAuthenticator.hs256(SECRET.getBytes(StandardCharsets.UTF_8),
                Set.of("ops@example.com"), Clock.systemUTC());
        assertThat(enforcer.authenticate("Bearer " + token).email()).isEqualTo("ops@example.com");
        assertThat(run.err()).doesNotContain(SECRET);
    }

    @Test
    void theTtlAndEmailCanBeChosen() throws Exception {
        Run run = run(ENV, "--ttl", "2h", "--email", "admin@example.com");
        assertThat(run.exit()).as(run.err()).isZero();
        var claims = SignedJWT.parse(run.out().strip()).getJWTClaimsSet();
        assertThat(Duration.between(claims.getIssueTime().toInstant(), claims.getExpirationTime().toInstant()))
                .isEqualTo(Duration.ofHours(2));
        assertThat(claims.getStringClaim("email")).isEqualTo("admin@example.com");
    }

    @Test
    void refusesWithoutASecretOrWithTheEnvExamplePlaceholder() {
        Run none = run(Map.of("METER_ADMIN_EMAILS", "ops@example.com"));
        assertThat(none.exit()).isNotZero();
        assertThat(none.err()).contains("METER_ADMIN_JWT_SECRET is not set");
        Run placeholder = run(Map.of("METER_ADMIN_JWT_SECRET", "change-me-to-32-or-more-random-characters",
                "METER_ADMIN_EMAILS", "ops@example.com"));
        assertThat(placeholder.exit()).isNotZero();
        assertThat(placeholder.err()).contains("METER_ADMIN_JWT_SECRET still holds the placeholder of .env.example");
        assertThat(run(ENV, "--ttl", "soon").err()).contains("--ttl");
    }
}
