package io.usagemeter.kit.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.time.Clock;
import java.time.Duration;
import java.util.Date;
import java.util.UUID;

/**
 * Issues HS256 admin tokens with the claims {@link AdminAuthenticator} checks ({@code iss}, {@code aud},
 * {@code exp}, {@code email}): for {@code meter admin token}, {@code meter dev} (which writes
 * {@code METER_ADMIN_TOKEN}) and tests.
 */
public final class AdminTokens {

    private AdminTokens() {
    }

    /** A token for the default issuer and audience. */
    public static String hs256(byte[] secret, String email, Duration validity, Clock clock) {
        return hs256(secret, email, AdminJwtSettings.DEFAULT_ISSUER, AdminJwtSettings.DEFAULT_AUDIENCE, validity, clock);
    }

    public static String hs256(byte[] secret, String email, String issuer, String audience, Duration validity,
                               Clock clock) {
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(issuer)
                .audience(audience)
                .subject(email)
                .claim("email", email)
                .jwtID(UUID.randomUUID().toString())
                .issueTime(Date.from(clock.instant()))
                .expirationTime(Date.from(clock.instant().plus(validity)))
                .build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        try {
            jwt.sign(new MACSigner(secret));
        } catch (JOSEException e) {
            throw new IllegalArgumentException("cannot sign an HS256 admin token: " + e.getMessage(), e);
        }
        return jwt.serialize();
    }
}
