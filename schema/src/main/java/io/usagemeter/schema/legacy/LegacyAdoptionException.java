package io.usagemeter.schema.legacy;

/** The database could not be adopted; the message says why and whether it was left as it was. */
public final class LegacyAdoptionException extends RuntimeException {

    LegacyAdoptionException(String message) {
        super(message);
    }

    LegacyAdoptionException(String message, Throwable cause) {
        super(message, cause);
    }
}
