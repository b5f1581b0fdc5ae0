package io.usagemeter.cli;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * The service database from {@code METER_DB_URL}, {@code METER_DB_USER} and {@code METER_DB_PASSWORD}.
 * The password is never printed; {@link #maskedUrl()} hides one given inside the URL too.
 */
record ServiceDatabaseConfig(String url, String user, String password) {

    static final String URL = "METER_DB_URL";
    static final String USER = "METER_DB_USER";
    static final String PASSWORD = "METER_DB_PASSWORD";

    private static final Pattern URL_PASSWORD = Pattern.compile("(?i)(password=)[^&;]*");
    private static final Pattern URL_USERINFO = Pattern.compile("//([^/:@]+):[^/@]*@");

    static ServiceDatabaseConfig fromEnvironment(Map<String, String> env) {
        String url = env.get(URL);
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException(URL + " is not set: give the JDBC URL of the service database,"
                    + " e.g. jdbc:postgresql://localhost:5432/meter (user and password in " + USER + " and " + PASSWORD + ")");
        }
        if (!url.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException(URL + " must be a PostgreSQL JDBC URL (jdbc:postgresql://...), was "
                    + mask(url));
        }
        return new ServiceDatabaseConfig(url.strip(), env.getOrDefault(USER, ""), env.getOrDefault(PASSWORD, ""));
    }

    String maskedUrl() {
        return mask(url);
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

    static String mask(String url) {
        return URL_USERINFO.matcher(URL_PASSWORD.matcher(url).replaceAll("$1***")).replaceAll("//$1:***@");
    }

    @Override
    public String toString() {
        return "ServiceDatabaseConfig[url=" + maskedUrl() + ", user=" + user + ", password=***]";
    }
}
