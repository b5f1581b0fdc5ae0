package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The third-party API a usage event was proxied to; lowercase on the wire. */
public enum Provider {
    @JsonProperty("github") GITHUB,
    @JsonProperty("openai") OPENAI,
    @JsonProperty("anthropic") ANTHROPIC,
    @JsonProperty("gemini") GEMINI,
    @JsonProperty("other") OTHER;

    private static final List<String> WIRE_NAMES = Arrays.stream(values()).map(Provider::wireName).toList();

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The provider whose wire name is exactly {@code wireName} (case-sensitive, as the contract). */
    public static Optional<Provider> fromWireName(String wireName) {
        for (Provider p : values()) {
            if (p.wireName().equals(wireName)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    public static List<String> wireNames() {
        return WIRE_NAMES;
    }
}
