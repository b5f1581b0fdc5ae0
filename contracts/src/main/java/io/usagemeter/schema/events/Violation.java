package io.usagemeter.schema.events;

import java.util.Objects;

/** One broken rule: the wire name of the field (or {@code $} for the whole document) and what is wrong. */
public record Violation(String field, String message) {

    public static final String DOCUMENT = "$";

    public Violation {
        Objects.requireNonNull(field, "field");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return field + ": " + message;
    }
}
