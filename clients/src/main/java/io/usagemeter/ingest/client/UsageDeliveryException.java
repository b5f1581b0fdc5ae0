package io.usagemeter.ingest.client;

/**
 * An emitted event was not delivered: refused by the ingest service (e.g. 400, 401, 403), or
 * still undeliverable when its retry time ran out or the client closed.
 */
public final class UsageDeliveryException extends RuntimeException {

    private final boolean retriesExhausted;

    public UsageDeliveryException(String message, Throwable cause, boolean retriesExhausted) {
        super(message, cause);
        this.retriesExhausted = retriesExhausted;
    }

    /** True when the sink was unreachable until the end; false when it refused the event. */
    public boolean retriesExhausted() {
        return retriesExhausted;
    }
}
