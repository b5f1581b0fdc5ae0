package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class EnforcerConfigTest {

    private static final Map<String, String> DB = Map.of("METER_DB_URL", "jdbc:postgresql://db/meter", "METER_DB_USER", "meter");

    @Test
    void defaultsApplyWhenOnlyTheDatabaseIsSet() {
        EnforcerConfig config = EnforcerConfig.fromEnv(DB);
        assertThat(config.port()).isEqualTo(8081);
        assertThat(config.advertisedUrl()).isNull();
        assertThat(config.standbyReplicas()).isEqualTo(1);
        assertThat(config.commitInterval()).isEqualTo(Duration.ofMillis(100));
        assertThat(config.grace()).isEqualByComparingTo(BigDecimal.ZERO);
        assertThat(config.adminEmails()).isEmpty();
        assertThat(config.dbPassword()).isEmpty();
    }

    @Test
    void readsEveryVariable() {
        Map<String, String> env = new HashMap<>(DB);
        env.putAll(Map.of("METER_ENFORCER_PORT", "9000", "METER_ENFORCER_ADVERTISED_URL", "http://10.0.0.5:9000",
                "METER_ENFORCER_STATE_DIR", "/var/lib/enforcer", "METER_ENFORCER_STANDBY_REPLICAS", "0",
                "METER_ENFORCER_COMMIT_INTERVAL", "PT1S", "METER_ENFORCER_GRACE_PERCENT", "2.5",
                "METER_ENFORCER_STREAM_THREADS", "2", "METER_ADMIN_EMAILS", " Ops@Example.com, ,admin@example.com"));
        EnforcerConfig config = EnforcerConfig.fromEnv(env);
        assertThat(config.port()).isEqualTo(9000);
        assertThat(config.advertisedUrl()).isEqualTo(URI.create("http://10.0.0.5:9000"));
        assertThat(config.stateDir()).isEqualTo(Path.of("/var/lib/enforcer"));
        assertThat(config.standbyReplicas()).isZero();
        assertThat(config.commitInterval()).isEqualTo(Duration.ofSeconds(1));
        assertThat(config.grace()).isEqualByComparingTo("0.025");
        assertThat(config.streamThreads()).isEqualTo(2);
        assertThat(config.adminEmails()).isEqualTo(Set.of("ops@example.com", "admin@example.com"));
    }

    @Test
    void badValuesNameTheVariable() {
        assertThatThrownBy(() -> EnforcerConfig.fromEnv(Map.of())).hasMessageStartingWith("METER_DB_URL is not set");
        for (var bad : Map.of("METER_ENFORCER_PORT", "http", "METER_ENFORCER_ADVERTISED_URL", "enforcer-1",
                "METER_ENFORCER_STANDBY_REPLICAS", "-1", "METER_ENFORCER_COMMIT_INTERVAL", "100ms",
                "METER_ENFORCER_GRACE_PERCENT", "-5", "METER_ENFORCER_STREAM_THREADS", "0").entrySet()) {
            Map<String, String> env = new HashMap<>(DB);
            env.put(bad.getKey(), bad.getValue());
            assertThatThrownBy(() -> EnforcerConfig.fromEnv(env))
                    .hasMessageStartingWith(bad.getKey() + " must be").hasMessageEndingWith("was '" + bad.getValue() + "'");
        }
    }

    @Test
    void theJwtSecretNeverAppearsInAMessage() {
        Map<String, String> env = new HashMap<>(DB);
        String secret = "short-" + System.nanoTime();
        env.put("METER_ADMIN_JWT_SECRET", secret);
        assertThatThrownBy(() -> EnforcerConfig.fromEnv(env)).hasMessageContaining("METER_ADMIN_JWT_SECRET")
                .message().doesNotContain(secret);
    }
}
