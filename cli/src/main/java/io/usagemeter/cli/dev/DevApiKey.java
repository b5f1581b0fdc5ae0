package io.usagemeter.cli.dev;

import com.zaxxer.hikari.HikariDataSource;
import io.usagemeter.kit.DatabasePool;
import io.usagemeter.kit.keys.ApiKey;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.kit.keys.ApiKeyStore;
import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/**
 * The local API key of the dev stack, issued through the same store as {@code meter admin
 * create-api-key}, with every scope (write events and referrals, read limits). Kept while it is still
 * an active key of this database with all of them, so a restart does not invalidate the
 * {@code METER_API_KEY} a shell already loaded.
 */
final class DevApiKey {

    static final String NAME = "meter dev (local)";

    private DevApiKey() {
    }

    static String keepOrIssue(String current, Map<String, String> env) {
        DatabaseSettings db = DatabaseSettings.from(MeterEnvironment.of(env), "meter dev's database");
        try (HikariDataSource dataSource = DatabasePool.open("meter-dev-keys", db.url(), db.user(), db.password(), 1,
                Duration.ofSeconds(30))) {
            ApiKeyStore store = new ApiKeyStore(dataSource, Clock.systemUTC());
            if (current != null && !current.isBlank()
                    && store.findBySecret(current).filter(ApiKey::active)
                            .map(key -> key.scopes().containsAll(ApiKeyScopes.ALL)).orElse(false)) {
                return current;
            }
            return store.issue(NAME, ApiKeyScopes.ALL).secret();
        }
    }
}
