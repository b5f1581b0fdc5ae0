package io.usagemeter.schema.config;

import io.usagemeter.schema.sync.CredentialMask;
import java.util.Optional;

/**
 * The service database ({@code METER_DB_URL}, {@code METER_DB_USER}, {@code METER_DB_PASSWORD}), read once.
 * The password never appears in a message or in {@link #toString()}; {@link #maskedUrl()} hides one written
 * into the URL too.
 *
 * @param user blank when unset: the driver then uses the URL's {@code user} parameter or its own default
 */
public record DatabaseSettings(String url, String user, String password) {

    public static final String URL = "METER_DB_URL";
    public static final String USER = "METER_DB_USER";
    public static final String PASSWORD = "METER_DB_PASSWORD";

    public DatabaseSettings {
        if (url == null || !url.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException(URL + " must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/database)");
        }
        user = user == null ? "" : user;
        password = password == null ? "" : password;
    }

    /** The database a service or verb needs; fails with {@code METER_DB_URL is not set: <neededFor>} when unset. */
    public static DatabaseSettings from(MeterEnvironment env, String neededFor) {
        return new DatabaseSettings(env.postgresJdbcUrl(URL, neededFor), env.string(USER, ""), env.secret(PASSWORD, ""));
    }

    /**
     * The database of a service, which logs in as a named user: {@code METER_DB_URL} and {@code METER_DB_USER} are
     * both required, each failing with {@code <NAME> is not set: <neededFor>}.
     */
    public static DatabaseSettings forService(MeterEnvironment env, String neededFor) {
        return new DatabaseSettings(env.postgresJdbcUrl(URL, neededFor), env.required(USER, neededFor), env.secret(PASSWORD, ""));
    }

    /** The database when {@code METER_DB_URL} is set (verbs that use it only when it is). */
    public static Optional<DatabaseSettings> ifSet(MeterEnvironment env) {
        return env.string(URL, null) == null ? Optional.empty() : Optional.of(from(env, null));
    }

    public String maskedUrl() {
        return CredentialMask.maskUrl(url);
    }

    @Override
    public String toString() {
        // The password is left out altogether, not masked: nothing printed can carry it.
        return "DatabaseSettings[url=" + maskedUrl() + ", user=" + user + "]";
    }
}
