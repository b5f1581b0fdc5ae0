package io.usagemeter.schema.sync;

/**
 * A problem the operator can act on, with a one-line message that names the environment,
 * variable or migration involved. Messages are already free of credentials.
 */
public final class SchemaToolException extends RuntimeException {

    public SchemaToolException(String message) {
        super(message);
    }
}
