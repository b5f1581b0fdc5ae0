package io.usagemeter.ingest.client.internal;

import java.time.Duration;

/** Moves events to the sink (Kafka directly, or the ingest service over HTTP). */
public interface Transport {

    /** Takes the event; never blocks for long, reports its fate to the outcomes later. */
    void send(PendingEvent event);

    /** Sends whatever is lingering now instead of waiting for a fuller batch. */
    void sendLingering();

    void close(Duration timeout);
}
