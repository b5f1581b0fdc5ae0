package io.usagemeter.cli.dev;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;

/**
 * Admin tokens of the dev stack: HS256 JWTs signed with the generated dev secret, for the
 * admin email the enforcer is told to trust ({@code METER_ADMIN_EMAILS}).
 */
public final class AdminTokens {

    public static final String DEV_ADMIN_EMAIL = "admin@meter.dev";
    public static final String ISSUER = "meter-dev";
    /** Long enough that a dev never meets an expired token; a restart re-signs one that is near its end. */
    static final Duration LIFETIME = Duration.ofDays(365);
    private static final Duration RENEW_BEFORE = Duration.ofDays(7);

    private final byte[] secret;
    private final Clock clock;

    public AdminTokens(String secret, Clock clock) {
        this.secret = secret.getBytes(StandardCharsets.UTF_8);
        if (this.secret.length < 32) {
            throw new IllegalArgumentException("an HS256 secret needs at least 256 bits");
        }
        this.clock = clock;
    }

    /** {@code current} when it is still valid for a week under this secret, else a new token. */
    public String keepOrIssue(String current, String email) {
        if (current != null && !current.isBlank() && validFor(current, email, RENEW_BEFORE)) {
            return current;
        }
        return issue(email);
    }

    /** Signed by the enforcer's own issuer, so the dev token has exactly the claims it checks. */
    public String issue(String email) {
        return io.usagemeter.enforcer.http.AdminTokens.hs256(secret, email, LIFETIME, clock);
    }

    boolean validFor(String token, String email, Duration atLeast) {
        try {
            SignedJWT jwt = SignedJWT.parse(token);
            if (!jwt.verify(new MACVerifier(secret))) {
                return false;
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            return email.equals(claims.getStringClaim("email"))
                    && claims.getExpirationTime() != null
                    && claims.getExpirationTime().toInstant().isAfter(clock.instant().plus(atLeast));
        } catch (ParseException | JOSEException e) {
            return false;
        }
    }
}
