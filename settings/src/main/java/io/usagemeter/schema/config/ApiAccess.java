package io.usagemeter.schema.config;

import io.usagemeter.schema.sync.CredentialMask;
import java.net.URI;
import java.net.URISyntaxException;

/**
 * How the {@code meter} verbs reach the services' HTTP APIs, read here only: {@code METER_INGEST_URL},
 * {@code METER_ENFORCER_URL}, {@code METER_NOTIFIER_URL}, {@code METER_API_KEY} and {@code METER_ADMIN_TOKEN}
 * (all written by {@code meter dev} into {@code .meter/dev.env}). A key or token never appears in a message.
 */
public final class ApiAccess {

    public static final String INGEST_URL = "METER_INGEST_URL";
    public static final String ENFORCER_URL = "METER_ENFORCER_URL";
    public static final String NOTIFIER_URL = "METER_NOTIFIER_URL";
    public static final String API_KEY = "METER_API_KEY";
    public static final String ADMIN_TOKEN = "METER_ADMIN_TOKEN";

    private static final String HINT = "e.g. `source .meter/dev.env` for the dev stack";

    private final MeterEnvironment env;

    private ApiAccess(MeterEnvironment env) {
        this.env = env;
    }

    public static ApiAccess from(MeterEnvironment env) {
        return new ApiAccess(env);
    }

    /** The enforcer's admin API is configured: its URL and an admin token. */
    public boolean adminApi() {
        return isSet(ENFORCER_URL) && isSet(ADMIN_TOKEN);
    }

    /** The enforcer's read API is configured: its URL and an API key. */
    public boolean enforcerReads() {
        return isSet(ENFORCER_URL) && isSet(API_KEY);
    }

    public URI ingestUrl() {
        return base(INGEST_URL);
    }

    public URI enforcerUrl() {
        return base(ENFORCER_URL);
    }

    public URI notifierUrl() {
        return base(NOTIFIER_URL);
    }

    /** {@code METER_API_KEY}; fails naming it when unset. */
    public String apiKey() {
        return env.required(API_KEY, HINT);
    }

    /** {@code METER_ADMIN_TOKEN}; fails naming it when unset. */
    public String adminToken() {
        return env.required(ADMIN_TOKEN, HINT);
    }

    private boolean isSet(String name) {
        return env.string(name, null) != null;
    }

    /** An absolute http(s) URL; fails naming the variable when unset or not one. */
    private URI base(String name) {
        String value = env.required(name, HINT);
        try {
            URI uri = new URI(value);
            if (uri.isAbsolute() && uri.getHost() != null && ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))) {
                return uri;
            }
        } catch (URISyntaxException e) {
            // reported below
        }
        throw new IllegalArgumentException(name + " must be an absolute http(s) URL such as http://localhost:8081, was '"
                + CredentialMask.maskUrl(value) + "'");
    }
}
