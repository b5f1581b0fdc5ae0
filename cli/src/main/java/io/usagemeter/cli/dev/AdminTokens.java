package io.usagemeter.cli.dev;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;

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

    public String issue(String email) {
        Instant now = clock.instant();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(ISSUER)
                .subject(email)
                .claim("email", email)
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(LIFETIME)))
                .build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        try {
            jwt.sign(new MACSigner(secret));
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign the admin token: " + e.getMessage(), e);
        }
        return jwt.serialize();
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
