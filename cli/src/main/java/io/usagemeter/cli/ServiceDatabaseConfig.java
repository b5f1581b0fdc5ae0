package io.usagemeter.cli;

import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.sync.CredentialMask;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;
import java.util.Properties;

/**
 * The service database from {@code METER_DB_URL}, {@code METER_DB_USER} and {@code METER_DB_PASSWORD}.
 * The password is never printed; {@link #maskedUrl()} hides one given inside the URL too.
 */
record ServiceDatabaseConfig(String url, String user, String password) {

    static final String URL = DatabaseSettings.URL;
    static final String USER = DatabaseSettings.USER;
    static final String PASSWORD = DatabaseSettings.PASSWORD;

    static ServiceDatabaseConfig fromEnvironment(Map<String, String> variables) {
        DatabaseSettings db = DatabaseSettings.from(MeterEnvironment.of(variables), "give the JDBC URL of the service database,"
                + " e.g. jdbc:postgresql://localhost:5432/meter (user and password in " + USER + " and " + PASSWORD + ")");
        return new ServiceDatabaseConfig(db.url(), db.user(), db.password());
    }

    String maskedUrl() {
        return CredentialMask.maskUrl(url);
    }

    Connection connect() {
        Properties props = new Properties();
        if (!user.isBlank()) {
            props.setProperty("user", user);
        }
        if (!password.isEmpty()) {
            props.setProperty("password", password);
        }
        props.setProperty("ApplicationName", "meter tokens");
        try {
            return DriverManager.getConnection(url, props);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot connect to " + URL + " (" + maskedUrl() + "): " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "ServiceDatabaseConfig[url=" + maskedUrl() + ", user=" + user + ", password=***]";
    }
}
