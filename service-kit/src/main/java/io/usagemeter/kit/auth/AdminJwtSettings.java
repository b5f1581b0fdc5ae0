package io.usagemeter.kit.auth;

import io.usagemeter.schema.config.MeterEnvironment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * How admin tokens are checked: one key under one pinned algorithm (HS256 with a shared secret or
 * RS256 with a public key, never both), the e-mails allowed, and the issuer and audience every
 * token must name.
 *
 * @param hs256Secret {@code METER_ADMIN_JWT_SECRET}; never printed
 * @param rs256PublicKey {@code METER_ADMIN_JWT_PUBLIC_KEY} (PEM or the path of a PEM file)
 * @param adminEmails {@code METER_ADMIN_EMAILS}, lower-cased
 * @param issuer {@code METER_ADMIN_JWT_ISSUER}: the {@code iss} claim required
 * @param audience {@code METER_ADMIN_JWT_AUDIENCE}: a value the {@code aud} claim must contain
 */
public record AdminJwtSettings(String hs256Secret, String rs256PublicKey, Set<String> adminEmails,
                               String issuer, String audience) {

    public static final String DEFAULT_ISSUER = "usage-meter";
    public static final String DEFAULT_AUDIENCE = "usage-meter-admin";
    /** Lifetime of an issued admin token unless the issuer says otherwise ({@code meter admin token --ttl}). */
    public static final Duration DEFAULT_TOKEN_TTL = Duration.ofHours(24);

    public AdminJwtSettings {
        adminEmails = adminEmails == null ? Set.of()
                : adminEmails.stream().map(e -> e.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        issuer = issuer == null || issuer.isBlank() ? DEFAULT_ISSUER : issuer;
        audience = audience == null || audience.isBlank() ? DEFAULT_AUDIENCE : audience;
        if (hs256Secret != null && rs256PublicKey != null) {
            // One pinned algorithm: accepting both would reopen HS/RS confusion.
            throw new IllegalArgumentException("set only one of METER_ADMIN_JWT_SECRET (HS256) and "
                    + "METER_ADMIN_JWT_PUBLIC_KEY (RS256)");
        }
        if (hs256Secret != null && hs256Secret.getBytes(StandardCharsets.UTF_8).length < 32) {
            throw new IllegalArgumentException("METER_ADMIN_JWT_SECRET must be at least 32 bytes for HS256");
        }
        PlaceholderSecrets.refuse("METER_ADMIN_JWT_SECRET", hs256Secret);
    }

    /** {@code METER_ADMIN_JWT_*} and {@code METER_ADMIN_EMAILS} (comma-separated); unset: every admin request is refused. */
    public static AdminJwtSettings fromEnv(MeterEnvironment env) {
        return new AdminJwtSettings(
                env.string("METER_ADMIN_JWT_SECRET", null),
                env.string("METER_ADMIN_JWT_PUBLIC_KEY", null),
                Set.copyOf(env.list("METER_ADMIN_EMAILS")),
                env.string("METER_ADMIN_JWT_ISSUER", DEFAULT_ISSUER),
                env.string("METER_ADMIN_JWT_AUDIENCE", DEFAULT_AUDIENCE));
    }

    /** No key: every admin request is refused. */
    public static AdminJwtSettings disabled() {
        return new AdminJwtSettings(null, null, Set.of(), null, null);
    }

    @Override
    public String toString() {
        return "AdminJwtSettings[hs256Secret=" + (hs256Secret == null ? "unset" : "***") + ", rs256PublicKey="
                + (rs256PublicKey == null ? "unset" : "set") + ", adminEmails=" + adminEmails + ", issuer=" + issuer
                + ", audience=" + audience + "]";
    }
}
