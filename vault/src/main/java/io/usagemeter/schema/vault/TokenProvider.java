package io.usagemeter.schema.vault;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** A third-party API whose user token the vault keeps; {@link #wireName()} is the value in {@code user_tokens.provider}. */
public enum TokenProvider {
    GITHUB,
    OPENAI,
    ANTHROPIC,
    GEMINI;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a provider name as users type it ({@code github}, {@code OpenAI}, ...). */
    public static TokenProvider fromWireName(String name) {
        for (TokenProvider p : values()) {
            if (p.wireName().equalsIgnoreCase(name == null ? "" : name.trim())) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown provider '" + name + "'; expected one of "
                + Arrays.stream(values()).map(TokenProvider::wireName).collect(Collectors.joining(", ")));
    }
}
