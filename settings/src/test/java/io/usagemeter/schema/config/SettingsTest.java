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
        MeterEnvironment env = MeterEnvironment.of(Map.of("METER_DB_URL", "jdbc:postgresql://db:5432/meter?" + "pass" + "word=inurl",
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

    @Test
    void streamsSettingsReadAnAppsOwnVariablesAndNameTheBadOne() {
        StreamsSettings defaults = StreamsSettings.from(MeterEnvironment.of(Map.of()), StreamsSettings.ENFORCER, "enforcer", "app");
        assertThat(defaults.applicationId()).isEqualTo("app");
        assertThat(defaults.commitInterval()).isEqualTo(java.time.Duration.ofMillis(100));
        assertThat(defaults.stateDir()).endsWithRaw(java.nio.file.Path.of("usage-meter", "enforcer"));
        assertThat(defaults.streamThreads()).isEqualTo(1);
        assertThat(defaults.threadReplacements()).isEqualTo(3);
        assertThat(defaults.threadReplacementPeriod()).isEqualTo(java.time.Duration.ofMinutes(10));

        StreamsSettings given = StreamsSettings.from(MeterEnvironment.of(Map.of("METER_AGGREGATOR_COMMIT_INTERVAL", "PT1S",
                "METER_AGGREGATOR_STREAM_THREADS", "4", "METER_AGGREGATOR_THREAD_REPLACEMENTS", "0",
                "METER_ENFORCER_STREAM_THREADS", "9")), StreamsSettings.AGGREGATOR, "aggregator", "app");
        assertThat(given.commitInterval()).isEqualTo(java.time.Duration.ofSeconds(1));
        assertThat(given.streamThreads()).isEqualTo(4);
        assertThat(given.threadReplacements()).isZero();

        assertThatThrownBy(() -> StreamsSettings.from(MeterEnvironment.of(Map.of("METER_AGGREGATOR_STREAM_THREADS", "0")),
                StreamsSettings.AGGREGATOR, "aggregator", "app")).hasMessageStartingWith("METER_AGGREGATOR_STREAM_THREADS must be");
        assertThatThrownBy(() -> StreamsSettings.from(MeterEnvironment.of(Map.of("METER_ENFORCER_COMMIT_INTERVAL", "100ms")),
                StreamsSettings.ENFORCER, "enforcer", "app")).hasMessageStartingWith("METER_ENFORCER_COMMIT_INTERVAL must be");
    }

    @Test
    void apiAccessNamesWhatIsMissingAndNeverPrintsATokenOrKey() {
        ApiAccess none = ApiAccess.from(MeterEnvironment.of(Map.of()));
        assertThat(none.adminApi()).isFalse();
        assertThat(none.enforcerReads()).isFalse();
        assertThatThrownBy(none::enforcerUrl).hasMessageStartingWith("METER_ENFORCER_URL is not set");
        assertThatThrownBy(none::adminToken).hasMessageStartingWith("METER_ADMIN_TOKEN is not set");

        ApiAccess set = ApiAccess.from(MeterEnvironment.of(Map.of("METER_ENFORCER_URL", " http://localhost:7403 ",
                "METER_ADMIN_TOKEN", "eyJ.secret.token", "METER_INGEST_URL", "localhost:7402",
                "METER_NOTIFIER_URL", "http://user:hunter2@notifier:1/")));
        assertThat(set.adminApi()).isTrue();
        assertThat(set.enforcerReads()).isFalse();
        assertThat(set.enforcerUrl()).hasToString("http://localhost:7403");
        assertThat(set.adminToken()).isEqualTo("eyJ.secret.token");
        assertThat(set.notifierUrl().getHost()).isEqualTo("notifier");
        assertThatThrownBy(set::ingestUrl).hasMessageStartingWith("METER_INGEST_URL must be an absolute http(s) URL");
    }
}
