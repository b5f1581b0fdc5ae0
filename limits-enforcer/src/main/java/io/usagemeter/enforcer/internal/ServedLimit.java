package io.usagemeter.enforcer.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.json.Json;
import java.io.UncheckedIOException;

/**
 * A limit answer as it is served: the record and its JSON, written once when the answer is derived and then
 * only copied to the socket. The same answer flagged {@code stale} (from a standby, or while a replay rebuilds
 * its month) is derived once too, the first time it is asked for.
 */
public final class ServedLimit {

    private static final ObjectWriter WRITER = Json.writerFor(LimitAnswer.class);

    private final LimitAnswer answer;
    private final byte[] json;
    private volatile ServedLimit staleTwin;

    ServedLimit(LimitAnswer answer) {
        this.answer = answer;
        try {
            this.json = WRITER.writeValueAsBytes(answer);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("could not write a limit answer as JSON", e);
        }
    }

    public LimitAnswer answer() {
        return answer;
    }

    /** The answer's JSON; shared, never to be modified. */
    public byte[] json() {
        return json;
    }

    /** This answer flagged {@code stale}. */
    public ServedLimit stale() {
        if (answer.stale()) {
            return this;
        }
        ServedLimit twin = staleTwin;
        if (twin == null) {
            twin = new ServedLimit(answer.withStale(true));
            staleTwin = twin;
        }
        return twin;
    }
}
