package io.usagemeter.ingest.client;

/**
 * The client already holds its maximum of undelivered events and none was delivered within the
 * configured block time: the sink is down or slower than the app. The event was not queued.
 */
public final class UsageClientFullException extends IllegalStateException {

    public UsageClientFullException(int maxPendingEvents, long blockedMillis) {
        super("usage client full: " + maxPendingEvents + " events undelivered, none delivered within "
                + blockedMillis + " ms");
    }
}
