package io.usagemeter.kit.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Checks admin bearer tokens: a JWT signed with the one configured key under the one pinned
 * algorithm (HS256 with {@code METER_ADMIN_JWT_SECRET} or RS256 with {@code METER_ADMIN_JWT_PUBLIC_KEY}),
 * carrying an expiry that has not passed, the configured issuer ({@code iss}) and audience
 * ({@code aud}), and an {@code email} claim listed in {@code METER_ADMIN_EMAILS}.
 *
 * <p>The algorithm comes from configuration, never from the token header, so {@code alg: none} and
 * HS256 tokens "signed" with the RSA public key are refused.
 */
public final class AdminAuthenticator {

    /** Clocks of issuer and enforcer may differ slightly. */
    private static final Duration CLOCK_SKEW = Duration.ofSeconds(30);

    private final JWSAlgorithm algorithm;
    private final JWSVerifier verifier;
    private final Set<String> adminEmails;
    private final String issuer;
    private final String audience;
    private final Clock clock;

    private AdminAuthenticator(JWSAlgorithm algorithm, JWSVerifier verifier, Set<String> adminEmails, String issuer,
                               String audience, Clock clock) {
        this.algorithm = algorithm;
        this.verifier = verifier;
        this.adminEmails = adminEmails.stream().map(e -> e.toLowerCase(Locale.ROOT)).collect(java.util.stream.Collectors.toUnmodifiableSet());
        this.issuer = Objects.requireNonNull(issuer, "issuer");
        this.audience = Objects.requireNonNull(audience, "audience");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** HS256 with the default issuer and audience. */
    public static AdminAuthenticator hs256(byte[] secret, Set<String> adminEmails, Clock clock) {
        return hs256(secret, adminEmails, AdminJwtSettings.DEFAULT_ISSUER, AdminJwtSettings.DEFAULT_AUDIENCE, clock);
    }

    public static AdminAuthenticator hs256(byte[] secret, Set<String> adminEmails, String issuer, String audience,
                                           Clock clock) {
        try {
            return new AdminAuthenticator(JWSAlgorithm.HS256, new MACVerifier(secret), adminEmails, issuer, audience, clock);
        } catch (JOSEException e) {
            throw new IllegalArgumentException("METER_ADMIN_JWT_SECRET is not a usable HS256 key: " + e.getMessage(), e);
        }
    }

    /** RS256 with the default issuer and audience. */
    public static AdminAuthenticator rs256(RSAPublicKey publicKey, Set<String> adminEmails, Clock clock) {
        return new AdminAuthenticator(JWSAlgorithm.RS256, new RSASSAVerifier(publicKey), adminEmails,
                AdminJwtSettings.DEFAULT_ISSUER, AdminJwtSettings.DEFAULT_AUDIENCE, clock);
    }

    /** Refuses every token: no key is configured. */
    public static AdminAuthenticator disabled() {
        return new AdminAuthenticator(null, null, Set.of(), AdminJwtSettings.DEFAULT_ISSUER,
                AdminJwtSettings.DEFAULT_AUDIENCE, Clock.systemUTC());
    }

    public static AdminAuthenticator create(AdminJwtSettings settings, Clock clock) {
        if (settings.hs256Secret() != null) {
            return hs256(settings.hs256Secret().getBytes(StandardCharsets.UTF_8), settings.adminEmails(),
                    settings.issuer(), settings.audience(), clock);
        }
        if (settings.rs256PublicKey() != null) {
            return new AdminAuthenticator(JWSAlgorithm.RS256, new RSASSAVerifier(parsePublicKey(settings.rs256PublicKey())),
                    settings.adminEmails(), settings.issuer(), settings.audience(), clock);
        }
        return disabled();
    }

    /** An RSA public key as PEM ({@code BEGIN PUBLIC KEY}) or the path of a file holding it. */
    public static RSAPublicKey parsePublicKey(String pemOrPath) {
        try {
            String pem = pemOrPath.contains("-----BEGIN") ? pemOrPath : Files.readString(Path.of(pemOrPath.trim()));
            String base64 = pem.replaceAll("-----(BEGIN|END) PUBLIC KEY-----", "").replaceAll("\\s", "");
            return (RSAPublicKey) KeyFactory.getInstance("RSA")
                    .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(base64)));
        } catch (Exception e) {
            throw new IllegalArgumentException("METER_ADMIN_JWT_PUBLIC_KEY must be an RSA public key in PEM "
                    + "(-----BEGIN PUBLIC KEY-----) or the path of such a file: " + e.getClass().getSimpleName());
        }
    }

    public boolean enabled() {
        return verifier != null;
    }

    /** The admin behind {@code authorization} (the whole header value), or an {@link AdminAuthException}. */
    public AdminIdentity authenticate(String authorization) {
        if (!enabled()) {
            throw new AdminAuthException(401, "admin API is not configured: set METER_ADMIN_JWT_SECRET or METER_ADMIN_JWT_PUBLIC_KEY");
        }
        if (authorization == null || authorization.isBlank()) {
            throw new AdminAuthException(401, "missing admin token: send Authorization: Bearer <admin JWT>");
        }
        if (authorization.length() < 8 || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new AdminAuthException(401, "the Authorization header must use the Bearer scheme");
        }
        SignedJWT jwt;
        JWTClaimsSet claims;
        try {
            jwt = SignedJWT.parse(authorization.substring(7).strip());
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException | RuntimeException e) {
            throw new AdminAuthException(401, "admin token is not a signed JWT");
        }
        if (!algorithm.equals(jwt.getHeader().getAlgorithm())) {
            throw new AdminAuthException(401, "admin token must be signed with " + algorithm.getName());
        }
        try {
            if (!jwt.verify(verifier)) {
                throw new AdminAuthException(401, "admin token signature is invalid");
            }
        } catch (JOSEException e) {
            throw new AdminAuthException(401, "admin token signature is invalid");
        }
        Instant now = clock.instant();
        Date expiry = claims.getExpirationTime();
        if (expiry == null) {
            throw new AdminAuthException(401, "admin token has no expiry (exp)");
        }
        if (!now.isBefore(expiry.toInstant().plus(CLOCK_SKEW))) {
            throw new AdminAuthException(401, "admin token expired");
        }
        if (!issuer.equals(claims.getIssuer())) {
            throw new AdminAuthException(401, "admin token's issuer (iss) must be " + issuer);
        }
        if (claims.getAudience() == null || !claims.getAudience().contains(audience)) {
            throw new AdminAuthException(401, "admin token's audience (aud) must include " + audience);
        }
        Date notBefore = claims.getNotBeforeTime();
        if (notBefore != null && now.plus(CLOCK_SKEW).isBefore(notBefore.toInstant())) {
            throw new AdminAuthException(401, "admin token is not valid yet");
        }
        String email;
        try {
            email = claims.getStringClaim("email");
        } catch (ParseException e) {
            throw new AdminAuthException(401, "admin token's email claim is not a string");
        }
        if (email == null || !adminEmails.contains(email.toLowerCase(Locale.ROOT))) {
            throw new AdminAuthException(403, "not an admin");
        }
        return new AdminIdentity(email, claims.getSubject());
    }
}
