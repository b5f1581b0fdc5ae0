package io.usagemeter.schema.config;

import io.usagemeter.schema.sync.CredentialMask;
import java.math.BigDecimal;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code METER_*} variables of one process, read the same way by every module's config record.
 *
 * <p>A variable that is unset or blank takes its default. A value that does not parse fails at once
 * with an {@link IllegalArgumentException} of the form {@code NAME must be <expected form>, was '<value>'}.
 * Secrets are read with {@link #secret}, which never puts the value into a message; the parsing
 * methods echo the value and must not be used for them.
 */
public final class MeterEnvironment {

    private static final Pattern SHORT_DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");

    private final Map<String, String> variables;

    private MeterEnvironment(Map<String, String> variables) {
        this.variables = Objects.requireNonNull(variables, "variables");
    }

    /** Usually {@code MeterEnvironment.of(System.getenv())}; tests pass their own map. */
    public static MeterEnvironment of(Map<String, String> variables) {
        return new MeterEnvironment(variables);
    }

    /** The trimmed value, or {@code fallback} (may be {@code null}) when unset or blank. */
    public String string(String name, String fallback) {
        String value = variables.get(name);
        return value == null || value.isBlank() ? fallback : value.strip();
    }

    /** The trimmed value; fails with {@code NAME is not set} when unset or blank. */
    public String required(String name) {
        return required(name, null);
    }

    /** The trimmed value; fails with {@code NAME is not set: <hint>} when unset or blank. */
    public String required(String name, String hint) {
        String value = string(name, null);
        if (value == null) {
            throw new IllegalArgumentException(name + " is not set" + (hint == null ? "" : ": " + hint));
        }
        return value;
    }

    /**
     * The value exactly as given (passwords may start or end with spaces), or {@code fallback} when
     * unset. Never appears in a message.
     */
    public String secret(String name, String fallback) {
        String value = variables.get(name);
        return value == null ? fallback : value;
    }

    /** A whole number within {@code min..max}. */
    public int intIn(String name, int fallback, int min, int max) {
        String range = max == Integer.MAX_VALUE ? "of at least " + min : "from " + min + " to " + max;
        return intIn(name, fallback, min, max, "a whole number " + range);
    }

    /** A whole number of at least 1. */
    public int positiveInt(String name, int fallback) {
        return intIn(name, fallback, 1, Integer.MAX_VALUE);
    }

    /** A TCP port to listen on, 0 for any free one. */
    public int port(String name, int fallback) {
        return intIn(name, fallback, 0, 65_535, "a port number from 0 to 65535 (0: any free port)");
    }

    private int intIn(String name, int fallback, int min, int max, String expected) {
        String value = string(name, null);
        if (value == null) {
            return fallback;
        }
        try {
            int parsed = Integer.parseInt(value);
            if (parsed >= min && parsed <= max) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below, with the expected form
        }
        throw invalid(name, expected, value);
    }

    /** A positive ISO-8601 duration such as {@code PT48H} or {@code PT0.1S}. */
    public Duration isoDuration(String name, Duration fallback) {
        String value = string(name, null);
        if (value == null) {
            return fallback;
        }
        try {
            return requirePositive(Duration.parse(value), name, value, "a positive ISO-8601 duration such as PT48H or PT0.1S");
        } catch (DateTimeParseException e) {
            throw invalid(name, "a positive ISO-8601 duration such as PT48H or PT0.1S", value);
        }
    }

    /** A positive duration, short ({@code 500ms}, {@code 5s}, {@code 2m}, {@code 1h}, {@code 35d}) or ISO-8601 ({@code PT5S}). */
    public Duration duration(String name, Duration fallback) {
        String value = string(name, null);
        if (value == null) {
            return fallback;
        }
        String expected = "a positive duration such as 500ms, 5s, 2m, 1h, 35d or PT5S";
        try {
            return requirePositive(parseDuration(value), name, value, expected);
        } catch (DateTimeParseException | ArithmeticException | NumberFormatException e) {
            throw invalid(name, expected, value);
        }
    }

    /** A decimal number of at least {@code min}, such as {@code 10} or {@code 2.5}. */
    public BigDecimal decimalAtLeast(String name, BigDecimal fallback, BigDecimal min) {
        String value = string(name, null);
        if (value == null) {
            return fallback;
        }
        try {
            BigDecimal parsed = new BigDecimal(value);
            if (parsed.compareTo(min) >= 0) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below, with the expected form
        }
        throw invalid(name, "a number of at least " + min.toPlainString() + " such as 10 or 2.5", value);
    }

    /** An absolute URL with host and port, such as {@code http://10.0.0.5:8081}; {@code fallback} when unset. */
    public URI url(String name, URI fallback) {
        String value = string(name, null);
        if (value == null) {
            return fallback;
        }
        try {
            URI uri = new URI(value);
            if (uri.isAbsolute() && uri.getHost() != null && uri.getPort() >= 0) {
                return uri;
            }
        } catch (URISyntaxException e) {
            // reported below, with the expected form
        }
        throw invalid(name, "an absolute URL with host and port such as http://10.0.0.5:8081",
                CredentialMask.maskUrl(value));
    }

    /**
     * A PostgreSQL JDBC URL; fails with {@code NAME is not set: <hint>} when unset. A password written
     * into the URL is masked in the message.
     */
    public String postgresJdbcUrl(String name, String hint) {
        String value = required(name, hint);
        if (!value.startsWith("jdbc:postgresql:")) {
            throw invalid(name, "a PostgreSQL JDBC URL (jdbc:postgresql://host:port/database)", CredentialMask.maskUrl(value));
        }
        return value;
    }

    /** A file system path. */
    public Path path(String name, Path fallback) {
        String value = string(name, null);
        if (value == null) {
            return fallback;
        }
        try {
            return Path.of(value);
        } catch (InvalidPathException e) {
            throw invalid(name, "a file system path", value);
        }
    }

    /** A comma-separated list, each item trimmed, empty items left out; empty when unset. */
    public List<String> list(String name) {
        String value = string(name, null);
        if (value == null) {
            return List.of();
        }
        return Arrays.stream(value.split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    /** Parses {@code 500ms}, {@code 5s}, {@code 2m}, {@code 1h}, {@code 35d} or ISO-8601 ({@code PT5S}). */
    public static Duration parseDuration(String text) {
        Matcher m = SHORT_DURATION.matcher(text.strip());
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
        }
        return Duration.parse(text.strip());
    }

    private static Duration requirePositive(Duration d, String name, String value, String expected) {
        if (d.isNegative() || d.isZero()) {
            throw invalid(name, expected, value);
        }
        return d;
    }

    private static IllegalArgumentException invalid(String name, String expected, String value) {
        return new IllegalArgumentException(name + " must be " + expected + ", was '" + value + "'");
    }

    /** Lists the variable names only: values may be secrets. */
    @Override
    public String toString() {
        return "MeterEnvironment" + variables.keySet().stream().filter(k -> k.startsWith("METER_")).sorted().toList();
    }
}
