package io.usagemeter.cli.dev;

import io.usagemeter.kit.auth.AdminJwtSettings;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;

/**
 * Admin tokens of the dev stack: HS256 JWTs signed with the generated dev secret, for the admin
 * e-mail the enforcer is told to trust ({@code METER_ADMIN_EMAILS}). {@code meter dev} issues a
 * fresh one at every start, valid for the default lifetime (24 h), so no long-lived token lies
 * around in {@code .meter/dev.env}.
 */
public final class AdminTokens {

    public static final String DEV_ADMIN_EMAIL = "admin@meter.dev";
    static final Duration LIFETIME = AdminJwtSettings.DEFAULT_TOKEN_TTL;
    /** The admin panel's sign-in link, printed in the banner, holds a token this short-lived. */
    static final Duration SIGN_IN_LIFETIME = Duration.ofHours(1);

    private final byte[] secret;
    private final Clock clock;

    public AdminTokens(String secret, Clock clock) {
        this.secret = secret.getBytes(StandardCharsets.UTF_8);
        if (this.secret.length < 32) {
            throw new IllegalArgumentException("an HS256 secret needs at least 256 bits");
        }
        this.clock = clock;
    }

    /** A token with exactly the claims the enforcer checks: default issuer and audience, 24 h of life. */
    public String issue(String email) {
        return issue(email, LIFETIME);
    }

    public String issue(String email, Duration lifetime) {
        return io.usagemeter.kit.auth.AdminTokens.hs256(secret, email, lifetime, clock);
    }
}
