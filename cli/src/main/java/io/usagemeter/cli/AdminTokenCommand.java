package io.usagemeter.cli;

import io.usagemeter.kit.auth.AdminJwtSettings;
import io.usagemeter.kit.auth.AdminTokens;
import io.usagemeter.schema.config.MeterEnvironment;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code meter admin token}: prints an admin JWT signed with {@code METER_ADMIN_JWT_SECRET}, carrying the
 * issuer and audience the enforcer checks ({@code METER_ADMIN_JWT_ISSUER}, {@code METER_ADMIN_JWT_AUDIENCE})
 * and an expiry ({@code --ttl}, 24 h by default). Only the token goes to standard output, for
 * {@code export METER_ADMIN_TOKEN=$(meter admin token)}.
 */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = "Print an admin JWT (HS256 with METER_ADMIN_JWT_SECRET) for the admin API and `meter admin` verbs.")
final class AdminTokenCommand implements Callable<Integer> {

    private final Map<String, String> env;

    @Spec
    CommandSpec spec;

    @Option(names = "--ttl", paramLabel = "DURATION", defaultValue = "24h",
            description = "How long the token is valid: 30m, 8h, 24h, 7d or ISO-8601 (default: ${DEFAULT-VALUE}).")
    String ttl;

    @Option(names = "--email", paramLabel = "EMAIL",
            description = "The admin's e-mail claim (default: the first of METER_ADMIN_EMAILS).")
    String email;

    AdminTokenCommand() {
        this(System.getenv());
    }

    /** With {@code env} in place of the process environment (tests). */
    AdminTokenCommand(Map<String, String> env) {
        this.env = env;
    }

    @Override
    public Integer call() {
        MeterEnvironment e = MeterEnvironment.of(env);
        String secret = e.secret("METER_ADMIN_JWT_SECRET", null);
        if (secret == null || secret.isBlank()) {
            throw new IllegalArgumentException("METER_ADMIN_JWT_SECRET is not set: the token is signed with it"
                    + " (RS256 deployments issue tokens with their own identity provider)");
        }
        Duration lifetime;
        try {
            lifetime = MeterEnvironment.parseDuration(ttl);
        } catch (RuntimeException bad) {
            throw new IllegalArgumentException("--ttl must be a positive duration such as 30m, 8h, 24h or 7d, was '" + ttl + "'");
        }
        if (lifetime.isNegative() || lifetime.isZero()) {
            throw new IllegalArgumentException("--ttl must be positive, was '" + ttl + "'");
        }
        List<String> admins = e.list("METER_ADMIN_EMAILS");
        String subject = email != null ? email : admins.stream().findFirst().orElseThrow(() ->
                new IllegalArgumentException("give --email, or set METER_ADMIN_EMAILS (the e-mails the enforcer trusts)"));
        AdminJwtSettings settings = new AdminJwtSettings(secret, null, admins.isEmpty() ? null : java.util.Set.copyOf(admins),
                e.string("METER_ADMIN_JWT_ISSUER", null), e.string("METER_ADMIN_JWT_AUDIENCE", null));
        String token = AdminTokens.hs256(secret.getBytes(StandardCharsets.UTF_8), subject, settings.issuer(),
                settings.audience(), lifetime, Clock.systemUTC());
        if (!settings.adminEmails().isEmpty() && !settings.adminEmails().contains(subject.toLowerCase(java.util.Locale.ROOT))) {
            spec.commandLine().getErr().println("meter admin token: " + subject
                    + " is not in METER_ADMIN_EMAILS; the enforcer will answer 403");
        }
        spec.commandLine().getErr().println("admin token for " + subject + ", issuer " + settings.issuer() + ", audience "
                + settings.audience() + ", valid for " + lifetime + ":");
        spec.commandLine().getOut().println(token);
        return 0;
    }
}
