package io.usagemeter.kit.auth;

import java.util.Locale;

/**
 * Refuses the placeholder values of {@code .env.example} ({@code change-me-...}): a service started
 * with them would run with secrets anyone can read in the repository.
 */
public final class PlaceholderSecrets {

    private static final String PLACEHOLDER_PREFIX = "change-me";

    private PlaceholderSecrets() {
    }

    /** Whether {@code value} is one of the repository's placeholder secrets. */
    public static boolean isPlaceholder(String value) {
        return value != null && value.strip().toLowerCase(Locale.ROOT).startsWith(PLACEHOLDER_PREFIX);
    }

    /**
     * @throws IllegalArgumentException naming the variable (never its value) when it holds a placeholder
     */
    public static void refuse(String variable, String value) {
        if (isPlaceholder(value)) {
            throw new IllegalArgumentException(variable + " still holds the placeholder of .env.example;"
                    + " set a real secret (e.g. `openssl rand -hex 32`)");
        }
    }
}
