package io.usagemeter.schema.sync;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Removes credentials from any text before it is printed: the passwords of the known
 * environments wherever they appear (driver messages sometimes echo connection properties),
 * {@code password=...} parameters, and {@code user:password@} forms in URLs.
 */
public final class CredentialMask {

    public static final String MASK = "****";

    private static final Pattern PASSWORD_PARAMETER =
            Pattern.compile("(?i)((?:password|pwd|sslpassword)=)([^&;\\s)]*)");
    private static final Pattern USER_INFO = Pattern.compile("(//[^/@:\\s]+:)([^@/\\s]*)(@)");

    private final List<String> secrets;

    public CredentialMask(List<DatabaseEnvironment> environments) {
        List<String> known = new ArrayList<>();
        for (DatabaseEnvironment env : environments) {
            if (!env.password().isEmpty()) {
                known.add(env.password());
            }
        }
        // Longest first, so a password that contains another one is masked whole.
        known.sort(Comparator.comparingInt(String::length).reversed());
        this.secrets = List.copyOf(known);
    }

    /** {@code text} with every known password and every URL-embedded password masked. */
    public String scrub(String text) {
        if (text == null) {
            return null;
        }
        String result = text;
        for (String secret : secrets) {
            result = result.replace(secret, MASK);
        }
        return maskUrl(result);
    }

    /** Masks {@code password=...} parameters and {@code user:password@} in any URL-like text. */
    public static String maskUrl(String text) {
        String result = PASSWORD_PARAMETER.matcher(text).replaceAll("$1" + Matcher.quoteReplacement(MASK));
        return USER_INFO.matcher(result).replaceAll("$1" + Matcher.quoteReplacement(MASK) + "$3");
    }
}
