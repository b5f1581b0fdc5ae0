package io.usagemeter.ingest.client.internal;

import io.usagemeter.schema.events.UsageEvent;
import java.util.concurrent.CompletableFuture;

/** An emitted event on its way to the sink, with its attempt count for backoff. */
public final class PendingEvent {

    private final UsageEvent event;
    private final CompletableFuture<Void> delivered = new CompletableFuture<>();
    private final long emittedAtNanos;
    private int attempts;

    public PendingEvent(UsageEvent event, long emittedAtNanos) {
        this.event = event;
        this.emittedAtNanos = emittedAtNanos;
    }

    public UsageEvent event() {
        return event;
    }

    public CompletableFuture<Void> delivered() {
        return delivered;
    }

    public long emittedAtNanos() {
        return emittedAtNanos;
    }

    /** Counts a failed attempt and returns how many there were. */
    public synchronized int failedAttempt() {
        return ++attempts;
    }
}
