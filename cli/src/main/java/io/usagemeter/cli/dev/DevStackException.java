package io.usagemeter.cli.dev;

/** A reason the dev stack cannot start, in one line that says what to do; printed without a stack trace. */
public final class DevStackException extends RuntimeException {

    public DevStackException(String message) {
        super(message);
    }

    public DevStackException(String message, Throwable cause) {
        super(message, cause);
    }
}
