package io.usagemeter.schema.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MeterEnvironmentTest {

    private static MeterEnvironment env(String... pairs) {
        Map<String, String> map = new HashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            map.put(pairs[i], pairs[i + 1]);
        }
        return MeterEnvironment.of(map);
    }

    @Test
    void unsetAndBlankVariablesTakeTheDefault() {
        MeterEnvironment e = env("METER_BLANK", "  ");
        assertThat(e.string("METER_BLANK", "d")).isEqualTo("d");
        assertThat(e.string("METER_UNSET", null)).isNull();
        assertThat(e.intIn("METER_BLANK", 7, 1, 10)).isEqualTo(7);
        assertThat(e.port("METER_UNSET", 8080)).isEqualTo(8080);
        assertThat(e.duration("METER_BLANK", Duration.ofSeconds(5))).isEqualTo(Duration.ofSeconds(5));
        assertThat(e.isoDuration("METER_UNSET", Duration.ofHours(48))).isEqualTo(Duration.ofHours(48));
        assertThat(e.decimalAtLeast("METER_UNSET", BigDecimal.ONE, BigDecimal.ZERO)).isEqualTo(BigDecimal.ONE);
        assertThat(e.url("METER_UNSET", null)).isNull();
        assertThat(e.path("METER_UNSET", Path.of("/tmp"))).isEqualTo(Path.of("/tmp"));
        assertThat(e.list("METER_BLANK")).isEmpty();
    }

    @Test
    void valuesAreTrimmedAndParsed() {
        MeterEnvironment e = env("METER_S", " kafka:9092 ", "METER_I", " 42 ", "METER_P", "0",
                "METER_D", "1500ms", "METER_ISO", "PT0.1S", "METER_N", "2.5", "METER_U", "http://10.0.0.5:8081",
                "METER_PATH", "/var/lib/meter", "METER_L", " a@x.io, ,B@y.io ");
        assertThat(e.string("METER_S", null)).isEqualTo("kafka:9092");
        assertThat(e.intIn("METER_I", 1, 1, 100)).isEqualTo(42);
        assertThat(e.positiveInt("METER_I", 1)).isEqualTo(42);
        assertThat(e.port("METER_P", 8080)).isZero();
        assertThat(e.duration("METER_D", null)).isEqualTo(Duration.ofMillis(1500));
        assertThat(e.duration("METER_ISO", null)).isEqualTo(Duration.ofMillis(100));
        assertThat(e.isoDuration("METER_ISO", null)).isEqualTo(Duration.ofMillis(100));
        assertThat(e.decimalAtLeast("METER_N", BigDecimal.ZERO, BigDecimal.ZERO)).isEqualByComparingTo("2.5");
        assertThat(e.url("METER_U", null)).isEqualTo(URI.create("http://10.0.0.5:8081"));
        assertThat(e.path("METER_PATH", null)).isEqualTo(Path.of("/var/lib/meter"));
        assertThat(e.list("METER_L")).isEqualTo(List.of("a@x.io", "B@y.io"));
    }

    @Test
    void everyShortDurationUnitParses() {
        assertThat(MeterEnvironment.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(MeterEnvironment.parseDuration("5s")).isEqualTo(Duration.ofSeconds(5));
        assertThat(MeterEnvironment.parseDuration("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(MeterEnvironment.parseDuration("1h")).isEqualTo(Duration.ofHours(1));
        assertThat(MeterEnvironment.parseDuration("35d")).isEqualTo(Duration.ofDays(35));
        assertThat(MeterEnvironment.parseDuration("PT48H")).isEqualTo(Duration.ofHours(48));
    }

    @Test
    void badValuesNameTheVariableTheValueAndTheExpectedForm() {
        MeterEnvironment e = env("METER_I", "many", "METER_ZERO", "0", "METER_PORT", "70000", "METER_D", "soon",
                "METER_NEG", "-5s", "METER_ISO", "48h", "METER_N", "-1", "METER_U", "localhost", "METER_L", "x");
        assertThatThrownBy(() -> e.intIn("METER_I", 1, 1, 10))
                .hasMessage("METER_I must be a whole number from 1 to 10, was 'many'");
        assertThatThrownBy(() -> e.positiveInt("METER_ZERO", 1))
                .hasMessage("METER_ZERO must be a whole number of at least 1, was '0'");
        assertThatThrownBy(() -> e.port("METER_PORT", 1))
                .hasMessage("METER_PORT must be a port number from 0 to 65535 (0: any free port), was '70000'");
        assertThatThrownBy(() -> e.duration("METER_D", null))
                .hasMessage("METER_D must be a positive duration such as 500ms, 5s, 2m, 1h, 35d or PT5S, was 'soon'");
        assertThatThrownBy(() -> e.duration("METER_ZERO", null)).hasMessageStartingWith("METER_ZERO must be a positive duration");
        assertThatThrownBy(() -> e.isoDuration("METER_ISO", null))
                .hasMessage("METER_ISO must be a positive ISO-8601 duration such as PT48H or PT0.1S, was '48h'");
        assertThatThrownBy(() -> e.decimalAtLeast("METER_N", BigDecimal.ZERO, BigDecimal.ZERO))
                .hasMessage("METER_N must be a number of at least 0 such as 10 or 2.5, was '-1'");
        assertThatThrownBy(() -> e.url("METER_U", null))
                .hasMessage("METER_U must be an absolute URL with host and port such as http://10.0.0.5:8081, was 'localhost'");
        assertThatThrownBy(() -> e.required("METER_UNSET")).hasMessage("METER_UNSET is not set");
        assertThatThrownBy(() -> e.required("METER_UNSET", "needed by meter ingest"))
                .hasMessage("METER_UNSET is not set: needed by meter ingest");
        assertThatThrownBy(() -> e.postgresJdbcUrl("METER_L", "hint"))
                .hasMessage("METER_L must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/database), was 'x'");
    }

    @Test
    void secretsAreReturnedAsGivenAndNeverShown() {
        String password = " pw-" + System.nanoTime() + " ";
        String inUrl = "pw" + System.nanoTime();
        MeterEnvironment e = env("METER_DB_PASSWORD", password,
                "METER_DB_URL", "mysql://meter:" + inUrl + "@db/meter?password=" + inUrl,
                "METER_ADVERTISED_URL", "http://meter:" + inUrl + "@host");
        assertThat(e.secret("METER_DB_PASSWORD", "")).isEqualTo(password);
        assertThat(e.secret("METER_UNSET", "")).isEmpty();
        assertThat(e.toString()).contains("METER_DB_PASSWORD").doesNotContain(password.strip());
        assertThatThrownBy(() -> e.postgresJdbcUrl("METER_DB_URL", null))
                .hasMessageContaining("METER_DB_URL").message().doesNotContain(inUrl);
        assertThatThrownBy(() -> e.url("METER_ADVERTISED_URL", null))
                .hasMessageContaining("METER_ADVERTISED_URL").message().doesNotContain(inUrl);
    }

    @Test
    void aValidPostgresUrlIsReturnedTrimmed() {
        assertThat(env("METER_DB_URL", " jdbc:postgresql://db:5432/meter ").postgresJdbcUrl("METER_DB_URL", null))
                .isEqualTo("jdbc:postgresql://db:5432/meter");
    }
}
