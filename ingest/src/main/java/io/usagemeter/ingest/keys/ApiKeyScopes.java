package io.usagemeter.ingest.keys;

import java.util.Set;

/** The scopes an API key can carry; each ingest route needs one. */
public final class ApiKeyScopes {

    /** {@code POST /v1/events}. */
    public static final String EVENTS_WRITE = "events:write";
    /** {@code POST /v1/referrals}. */
    public static final String REFERRALS_WRITE = "referrals:write";

    public static final Set<String> ALL = Set.of(EVENTS_WRITE, REFERRALS_WRITE);

    private ApiKeyScopes() {}
}
