package io.usagemeter.kit;

import java.util.Objects;

/**
 * What a route needs from its caller, checked by the kit before the route runs.
 *
 * @param apiKeyScope the scope an API key must carry, or {@code null} when API keys are not accepted
 * @param adminAccepted whether an admin token is accepted
 */
public record Access(String apiKeyScope, boolean adminAccepted) {

    private static final Access OPEN = new Access(null, false);
    private static final Access ADMIN = new Access(null, true);

    /** No credentials. */
    public static Access open() {
        return OPEN;
    }

    /** An API key with {@code scope}: 401 without a key or with an unknown one, 403 with the wrong scope. */
    public static Access apiKey(String scope) {
        return new Access(Objects.requireNonNull(scope, "scope"), false);
    }

    /** An admin JWT: 401 when missing or invalid, 403 when valid but not an admin's. */
    public static Access admin() {
        return ADMIN;
    }

    /** An API key with {@code scope}, or an admin token (admins read what apps read). */
    public static Access apiKeyOrAdmin(String scope) {
        return new Access(Objects.requireNonNull(scope, "scope"), true);
    }

    public boolean isOpen() {
        return apiKeyScope == null && !adminAccepted;
    }
}
