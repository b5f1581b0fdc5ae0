package io.usagemeter.schema.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link KafkaSettings} and {@link DatabaseSettings}: the variables every service and verb reads, parsed here only. */
class SettingsTest {

    @Test
    void kafkaDefaultsToTheLocalBrokerAndTrimsWhatIsGiven() {
        assertThat(KafkaSettings.from(MeterEnvironment.of(Map.of())).bootstrapServers()).isEqualTo("localhost:9092");
        assertThat(KafkaSettings.from(MeterEnvironment.of(Map.of("METER_KAFKA_BOOTSTRAP", " k1:9092,k2:9092 ")))
                .bootstrapServers()).isEqualTo("k1:9092,k2:9092");
        assertThat(KafkaSettings.ifSet(MeterEnvironment.of(Map.of("METER_KAFKA_BOOTSTRAP", "  ")))).isEmpty();
        assertThat(KafkaSettings.ifSet(MeterEnvironment.of(Map.of("METER_KAFKA_BOOTSTRAP", "k:1"))))
                .contains(new KafkaSettings("k:1"));
    }

    @Test
    void theDatabaseIsRequiredWhereNeededAndItsPasswordNeverPrinted() {
        MeterEnvironment env = MeterEnvironment.of(Map.of("METER_DB_URL", "jdbc:postgresql://db:5432/meter?password=inurl",
                "METER_DB_USER", "meter", "METER_DB_PASSWORD", " s3cret "));
        DatabaseSettings db = DatabaseSettings.from(env, "the sink writes there");

        assertThat(db.user()).isEqualTo("meter");
        assertThat(db.password()).isEqualTo(" s3cret ");
        assertThat(db.toString()).doesNotContain("s3cret").doesNotContain("inurl").contains("db:5432/meter");
        assertThat(db.maskedUrl()).doesNotContain("inurl");

        assertThatThrownBy(() -> DatabaseSettings.from(MeterEnvironment.of(Map.of()), "the sink writes there"))
                .hasMessage("METER_DB_URL is not set: the sink writes there");
        assertThatThrownBy(() -> DatabaseSettings.from(MeterEnvironment.of(Map.of("METER_DB_URL", "mysql://x")), "x"))
                .hasMessageStartingWith("METER_DB_URL must be a PostgreSQL JDBC URL");
        assertThat(DatabaseSettings.ifSet(MeterEnvironment.of(Map.of()))).isEmpty();
        assertThat(DatabaseSettings.ifSet(MeterEnvironment.of(Map.of("METER_DB_URL", "jdbc:postgresql://h/d"))))
                .get().extracting(DatabaseSettings::user, DatabaseSettings::password).containsExactly("", "");
    }
}
