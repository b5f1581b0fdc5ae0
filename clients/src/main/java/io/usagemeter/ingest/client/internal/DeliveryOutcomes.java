package io.usagemeter.ingest.client.internal;

import java.time.Duration;

/** Where a transport reports what became of each event it was given. */
public interface DeliveryOutcomes {

    void delivered(PendingEvent event);

    /** The sink refused the event for good (retrying cannot help). */
    void refused(PendingEvent event, String reason, Throwable cause);

    /** The sink was unreachable or overloaded: try again, not before {@code notBefore}. */
    void retry(PendingEvent event, Throwable cause, Duration notBefore);
}
