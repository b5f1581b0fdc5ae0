package io.usagemeter.schema.sync;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One database the schema tool manages (e.g. {@code dev}, {@code prod}), read once from
 * {@code METER_DB_<ENV>_URL}, {@code METER_DB_<ENV>_USER} and {@code METER_DB_<ENV>_PASSWORD}.
 *
 * <p>The password never leaves this record in readable form: {@link #toString()} masks it and
 * {@link #maskedUrl()} masks any password written into the JDBC URL itself.
 */
public record DatabaseEnvironment(String name, String url, String user, String password) {

    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,30}");

    public DatabaseEnvironment {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(url, "url");
        Objects.requireNonNull(user, "user");
        password = password == null ? "" : password;
    }

    /** The default environments of {@code meter schema}: dev first, then prod. */
    public static final List<String> DEFAULT_NAMES = List.of("dev", "prod");

    /**
     * Reads the named environments from {@code env} (System.getenv() in production).
     *
     * @throws SchemaToolException naming the missing or malformed variable
     */
    public static List<DatabaseEnvironment> fromVariables(Map<String, String> env, List<String> names) {
        if (names.isEmpty()) {
            throw new SchemaToolException("no environment chosen: pass --env dev,prod (or another list)");
        }
        List<DatabaseEnvironment> result = new ArrayList<>();
        for (String name : new LinkedHashSet<>(names)) {
            result.add(fromVariables(env, name));
        }
        return List.copyOf(result);
    }

    public static DatabaseEnvironment fromVariables(Map<String, String> env, String rawName) {
        String name = rawName.trim().toLowerCase(Locale.ROOT);
        if (!NAME.matcher(name).matches()) {
            throw new SchemaToolException("not an environment name: '" + rawName
                    + "' (letters, digits and _; it names METER_DB_<ENV>_URL)");
        }
        String prefix = variablePrefix(name);
        String url = blankToNull(env.get(prefix + "URL"));
        String user = blankToNull(env.get(prefix + "USER"));
        String password = env.get(prefix + "PASSWORD");
        if (url == null && user == null && password == null) {
            throw new SchemaToolException("unknown environment " + name + ": set " + prefix + "URL, "
                    + prefix + "USER and " + prefix + "PASSWORD");
        }
        if (url == null) {
            throw new SchemaToolException("environment " + name + ": " + prefix + "URL is not set");
        }
        if (!url.startsWith("jdbc:postgresql:")) {
            throw new SchemaToolException("environment " + name + ": " + prefix
                    + "URL must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/database), got "
                    + CredentialMask.maskUrl(url));
        }
        if (user == null) {
            throw new SchemaToolException("environment " + name + ": " + prefix + "USER is not set");
        }
        if (password == null) {
            throw new SchemaToolException("environment " + name + ": " + prefix
                    + "PASSWORD is not set (set it empty if the database needs no password)");
        }
        return new DatabaseEnvironment(name, url, user, password);
    }

    /** {@code METER_DB_DEV_} for {@code dev}. */
    public static String variablePrefix(String name) {
        return "METER_DB_" + name.toUpperCase(Locale.ROOT) + "_";
    }

    /** The JDBC URL with any password in it replaced by {@code ****}. */
    public String maskedUrl() {
        return new CredentialMask(List.of(this)).scrub(url);
    }

    @Override
    public String toString() {
        return "DatabaseEnvironment[name=" + name + ", url=" + maskedUrl() + ", user=" + user
                + ", password " + (password.isEmpty() ? "(empty)" : CredentialMask.MASK) + "]";
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }
}
