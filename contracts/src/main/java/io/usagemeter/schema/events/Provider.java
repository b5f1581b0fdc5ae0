package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/** The third-party API a usage event was proxied to; lowercase on the wire. */
public enum Provider {
    @JsonProperty("github") GITHUB,
    @JsonProperty("openai") OPENAI,
    @JsonProperty("anthropic") ANTHROPIC,
    @JsonProperty("gemini") GEMINI,
    @JsonProperty("other") OTHER;

    private static final List<String> WIRE_NAMES = Arrays.stream(values()).map(Provider::wireName).toList();
    private static final Map<String, Provider> BY_WIRE_NAME = Arrays.stream(values())
            .collect(Collectors.toUnmodifiableMap(Provider::wireName, p -> p));

    // Computed once: validation looks providers up per event.
    private final String wireName = name().toLowerCase(Locale.ROOT);

    public String wireName() {
        return wireName;
    }

    /** The provider whose wire name is exactly {@code wireName} (case-sensitive, as the contract). */
    public static Optional<Provider> fromWireName(String wireName) {
        return Optional.ofNullable(wireName == null ? null : BY_WIRE_NAME.get(wireName));
    }

    public static List<String> wireNames() {
        return WIRE_NAMES;
    }
}
