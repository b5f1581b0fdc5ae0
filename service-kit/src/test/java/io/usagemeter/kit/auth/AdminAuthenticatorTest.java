package io.usagemeter.kit.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.Date;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdminAuthenticatorTest {

    private static final Instant NOW = Instant.parse("2026-01-15T12:00:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    private static final Set<String> ADMINS = Set.of("admin@example.com");
    private static byte[] secret;
    private static KeyPair rsa;

    @BeforeAll
    static void keys() throws Exception {
        secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        rsa = generator.generateKeyPair();
    }

    private final AdminAuthenticator hs = AdminAuthenticator.hs256(secret, ADMINS, CLOCK);
    private final AdminAuthenticator rs = AdminAuthenticator.rs256((RSAPublicKey) rsa.getPublic(), ADMINS, CLOCK);

    private static JWTClaimsSet claims(String email, Instant expiry) {
        return claims(email, expiry, AdminJwtSettings.DEFAULT_ISSUER, AdminJwtSettings.DEFAULT_AUDIENCE);
    }

    private static JWTClaimsSet claims(String email, Instant expiry, String issuer, String audience) {
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder().subject("someone").claim("email", email)
                .issuer(issuer).audience(audience);
        if (expiry != null) {
            b.expirationTime(Date.from(expiry));
        }
        return b.build();
    }

    private static String hsToken(byte[] key, JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        jwt.sign(new MACSigner(key));
        return jwt.serialize();
    }

    private static String rsToken(JWTClaimsSet claims) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.RS256), claims);
        jwt.sign(new RSASSASigner(rsa.getPrivate()));
        return jwt.serialize();
    }

    private static int statusOf(AdminAuthenticator auth, String header) {
        try {
            auth.authenticate(header);
            return 200;
        } catch (AdminAuthException e) {
            return e.status();
        }
    }

    @Test
    void validAdminTokensPass() throws Exception {
        AdminIdentity viaHs = hs.authenticate("Bearer " + hsToken(secret, claims("Admin@Example.com", NOW.plusSeconds(600))));
        assertThat(viaHs.email()).isEqualToIgnoringCase("admin@example.com");
        assertThat(rs.authenticate("Bearer " + rsToken(claims("admin@example.com", NOW.plusSeconds(600)))).subject())
                .isEqualTo("someone");
        assertThat(hs.authenticate("Bearer " + AdminTokens.hs256(secret, "admin@example.com", Duration.ofHours(1), CLOCK))
                .email()).isEqualTo("admin@example.com");
    }

    @Test
    void missingOrMalformedHeaderIs401() {
        assertThat(statusOf(hs, null)).isEqualTo(401);
        assertThat(statusOf(hs, "")).isEqualTo(401);
        assertThat(statusOf(hs, "Basic YWRtaW46YWRtaW4=")).isEqualTo(401);
        assertThat(statusOf(hs, "Bearer not-a-jwt")).isEqualTo(401);
    }

    @Test
    void expiredOrExpiryLessTokensAre401() throws Exception {
        assertThat(statusOf(hs, "Bearer " + hsToken(secret, claims("admin@example.com", NOW.minusSeconds(3600)))))
                .isEqualTo(401);
        assertThat(statusOf(hs, "Bearer " + hsToken(secret, claims("admin@example.com", null)))).isEqualTo(401);
    }

    @Test
    void wrongSignatureIs401() throws Exception {
        byte[] other = new byte[32];
        new SecureRandom().nextBytes(other);
        assertThat(statusOf(hs, "Bearer " + hsToken(other, claims("admin@example.com", NOW.plusSeconds(600)))))
                .isEqualTo(401);
        KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        KeyPair stranger = generator.generateKeyPair();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.RS256), claims("admin@example.com", NOW.plusSeconds(600)));
        jwt.sign(new RSASSASigner(stranger.getPrivate()));
        assertThat(statusOf(rs, "Bearer " + jwt.serialize())).isEqualTo(401);
    }

    @Test
    void algNoneIs401() {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String header = b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8));
        String payload = b64.encodeToString(claims("admin@example.com", NOW.plusSeconds(600)).toString()
                .getBytes(StandardCharsets.UTF_8));
        assertThat(statusOf(hs, "Bearer " + header + "." + payload + ".")).isEqualTo(401);
        assertThat(statusOf(rs, "Bearer " + header + "." + payload + ".")).isEqualTo(401);
    }

    @Test
    void hsTokenSignedWithTheRsaPublicKeyIs401() throws Exception {
        // The classic confusion: the attacker knows the public key and uses it as an HMAC secret.
        byte[] publicKeyBytes = rsa.getPublic().getEncoded();
        String forged = hsToken(publicKeyBytes, claims("admin@example.com", NOW.plusSeconds(600)));
        assertThat(statusOf(rs, "Bearer " + forged)).isEqualTo(401);
        // And the reverse: an RS256 token against an HS256 deployment.
        assertThat(statusOf(hs, "Bearer " + rsToken(claims("admin@example.com", NOW.plusSeconds(600))))).isEqualTo(401);
    }

    @Test
    void validTokenOfANonAdminIs403() throws Exception {
        assertThat(statusOf(hs, "Bearer " + hsToken(secret, claims("user@example.com", NOW.plusSeconds(600)))))
                .isEqualTo(403);
        assertThat(statusOf(rs, "Bearer " + rsToken(new JWTClaimsSet.Builder()
                .issuer(AdminJwtSettings.DEFAULT_ISSUER).audience(AdminJwtSettings.DEFAULT_AUDIENCE)
                .expirationTime(Date.from(NOW.plusSeconds(600))).build()))).isEqualTo(403);
    }

    @Test
    void anUnconfiguredAdminApiRefusesEverything() throws Exception {
        assertThat(statusOf(AdminAuthenticator.disabled(), "Bearer " + hsToken(secret,
                claims("admin@example.com", NOW.plusSeconds(600))))).isEqualTo(401);
    }

    @Test
    void tokensOfAnotherIssuerOrAudienceOrWithoutThemAre401() throws Exception {
        Instant later = NOW.plusSeconds(600);
        assertThat(statusOf(hs, "Bearer " + hsToken(secret, claims("admin@example.com", later, "someone-else",
                AdminJwtSettings.DEFAULT_AUDIENCE)))).isEqualTo(401);
        assertThat(statusOf(hs, "Bearer " + hsToken(secret, claims("admin@example.com", later,
                AdminJwtSettings.DEFAULT_ISSUER, "another-api")))).isEqualTo(401);
        assertThat(statusOf(hs, "Bearer " + hsToken(secret, new JWTClaimsSet.Builder().claim("email", "admin@example.com")
                .expirationTime(Date.from(later)).build()))).as("neither iss nor aud").isEqualTo(401);
        String otherIssuer = hsToken(secret, claims("admin@example.com", later, "x", AdminJwtSettings.DEFAULT_AUDIENCE));
        assertThatThrownBy(() -> hs.authenticate("Bearer " + otherIssuer)).hasMessageContaining("(iss)");
        String otherAudience = hsToken(secret, claims("admin@example.com", later, AdminJwtSettings.DEFAULT_ISSUER, "y"));
        assertThatThrownBy(() -> hs.authenticate("Bearer " + otherAudience)).hasMessageContaining("(aud)");
    }

    @Test
    void theIssuerAndAudienceAreConfigurable() throws Exception {
        AdminAuthenticator custom = AdminAuthenticator.create(new AdminJwtSettings("k".repeat(40), null, ADMINS,
                "https://auth.example.com", "meter-prod"), CLOCK);
        byte[] key = "k".repeat(40).getBytes(StandardCharsets.UTF_8);
        String token = AdminTokens.hs256(key, "admin@example.com", "https://auth.example.com", "meter-prod",
                Duration.ofHours(1), CLOCK);
        assertThat(custom.authenticate("Bearer " + token).email()).isEqualTo("admin@example.com");
        assertThat(statusOf(custom, "Bearer " + AdminTokens.hs256(key, "admin@example.com", Duration.ofHours(1), CLOCK)))
                .as("default issuer and audience are not this deployment's").isEqualTo(401);
    }

    @Test
    void anIssuedTokenExpiresAfterItsLifetime() {
        String token = AdminTokens.hs256(secret, "admin@example.com", Duration.ofHours(24), CLOCK);
        AdminAuthenticator dayLater = AdminAuthenticator.hs256(secret, ADMINS,
                Clock.fixed(NOW.plus(Duration.ofHours(24)).plusSeconds(31), ZoneOffset.UTC));
        assertThat(statusOf(hs, "Bearer " + token)).isEqualTo(200);
        assertThat(statusOf(dayLater, "Bearer " + token)).isEqualTo(401);
    }

    @Test
    void settingsRefuseBothKeysAtOnceAndThePlaceholderSecret() {
        assertThatThrownBy(() -> new AdminJwtSettings("0123456789abcdef0123456789abcdef", "-----BEGIN PUBLIC KEY-----",
                ADMINS, null, null)).hasMessageContaining("only one of");
        assertThatThrownBy(() -> new AdminJwtSettings("change-me-to-32-or-more-random-characters", null, ADMINS, null,
                null)).hasMessage("METER_ADMIN_JWT_SECRET still holds the placeholder of .env.example;"
                        + " set a real secret (e.g. `openssl rand -hex 32`)");
    }
}
