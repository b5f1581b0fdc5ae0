package io.usagemeter.kit.internal;

import io.usagemeter.kit.Access;
import io.usagemeter.kit.Caller;
import io.usagemeter.kit.HttpProblem;
import io.usagemeter.kit.auth.AdminAuthException;
import io.usagemeter.kit.auth.AdminAuthenticator;
import io.usagemeter.kit.keys.ApiKey;
import io.usagemeter.kit.keys.ApiKeyAuthenticator;
import io.usagemeter.kit.keys.ApiKeySecrets;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jooq.exception.DataAccessException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Checks a request's bearer credential against what its route needs. The credential is never logged or echoed. */
public final class Authorizer {

    private static final Logger LOG = LoggerFactory.getLogger(Authorizer.class);
    private static final String BEARER = "Bearer ";

    private final ApiKeyAuthenticator keys;
    private final AdminAuthenticator admins;

    /** Either may be null when the service has no route that needs it. */
    public Authorizer(ApiKeyAuthenticator keys, AdminAuthenticator admins) {
        this.keys = keys;
        this.admins = admins;
    }

    /**
     * @throws HttpProblem 401 (no, malformed or unknown credential), 403 (wrong scope or not an admin),
     *     503 (the key store cannot answer)
     */
    public Caller authorize(Access access, String authorization) {
        if (access.isOpen()) {
            return Caller.ANONYMOUS;
        }
        boolean keyAccepted = access.apiKeyScope() != null;
        if (authorization == null || authorization.isBlank()) {
            throw new HttpProblem(401, keyAccepted
                    ? "missing API key: send Authorization: Bearer <api key>"
                    : "missing admin token: send Authorization: Bearer <admin JWT>");
        }
        if (authorization.length() <= BEARER.length() || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            throw new HttpProblem(401, "the Authorization header must use the Bearer scheme");
        }
        String credential = authorization.substring(BEARER.length()).strip();
        if (keyAccepted && (!access.adminAccepted() || !looksLikeJwt(credential))) {
            return apiKey(credential, access.apiKeyScope());
        }
        return admin(authorization);
    }

    /** Three dot-separated parts, and not our key format: an admin token rather than an API key. */
    private static boolean looksLikeJwt(String credential) {
        if (credential.startsWith(ApiKeySecrets.MARKER)) {
            return false;
        }
        int first = credential.indexOf('.');
        return first > 0 && credential.indexOf('.', first + 1) > first + 1;
    }

    private ApiKey apiKey(String secret, String scope) {
        if (keys == null) {
            throw new IllegalStateException("a route needs an API key but the server has no key authenticator");
        }
        Optional<ApiKey> key;
        try {
            key = keys.authenticate(secret);
        } catch (DataAccessException e) {
            LOG.warn("API key store unavailable: {}", e.getMessage());
            throw new HttpProblem(503, "cannot check API keys right now; retry the request", List.of());
        }
        ApiKey apiKey = key.orElseThrow(() -> new HttpProblem(401, "unknown or revoked API key"));
        if (!apiKey.allows(scope)) {
            throw new HttpProblem(403, "API key '" + apiKey.prefix() + "' lacks the scope " + scope,
                    List.of(Map.of("required_scope", scope)));
        }
        return apiKey;
    }

    private Caller admin(String authorization) {
        AdminAuthenticator authenticator = admins == null ? AdminAuthenticator.disabled() : admins;
        try {
            return authenticator.authenticate(authorization);
        } catch (AdminAuthException e) {
            throw new HttpProblem(e.status(), e.getMessage());
        }
    }
}
