package io.usagemeter.kit.keys;

import java.util.Set;

/** The scopes an API key can carry; each route that apps call needs one. */
public final class ApiKeyScopes {

    /** {@code POST /v1/events}. */
    public static final String EVENTS_WRITE = "events:write";
    /** {@code POST /v1/referrals}. */
    public static final String REFERRALS_WRITE = "referrals:write";

    /** {@code GET /v1/limits/{user_id}} and {@code GET /v1/usage/{user_id}} on the enforcer. */
    public static final String LIMITS_READ = "limits:read";

    public static final Set<String> ALL = Set.of(EVENTS_WRITE, REFERRALS_WRITE, LIMITS_READ);

    private ApiKeyScopes() {}
}
