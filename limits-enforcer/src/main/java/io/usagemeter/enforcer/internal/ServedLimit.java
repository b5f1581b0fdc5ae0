package io.usagemeter.enforcer.internal;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Objects;

/**
 * A limit answer as it is served: the limit state it states, whether it is {@code stale} (from a standby, or while
 * a replay rebuilds its month), and its JSON, written once when the answer is derived and then only copied to the
 * socket. The state is the one model of a limit; the JSON is the published {@link LimitAnswer} shape, the state's
 * fields without {@code grace} (which {@code allowed} already includes) and then {@code stale}. The same answer
 * flagged stale shares the state and has its JSON written once too, the first time it is asked for.
 */
public final class ServedLimit {

    private static final ObjectWriter WRITER = Json.writerFor(Wire.class);

    private final LimitState limit;
    private final boolean stale;
    private final byte[] json;
    private volatile ServedLimit staleTwin;

    ServedLimit(LimitState limit) {
        this(limit, false);
    }

    private ServedLimit(LimitState limit, boolean stale) {
        this.limit = Objects.requireNonNull(limit, "limit");
        this.stale = stale;
        try {
            this.json = WRITER.writeValueAsBytes(new Wire(limit, stale));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("could not write a limit answer as JSON", e);
        }
    }

    /** The state the answer states. */
    public LimitState limit() {
        return limit;
    }

    public boolean isStale() {
        return stale;
    }

    /** The answer's JSON; shared, never to be modified. */
    public byte[] json() {
        return json;
    }

    /** The answer as a client reads it, from its JSON: for in-process callers, not for the route. */
    public LimitAnswer answer() {
        try {
            return Json.readerFor(LimitAnswer.class).readValue(json);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read a served limit answer", e);
        }
    }

    /** This answer flagged {@code stale}. */
    public ServedLimit stale() {
        if (stale) {
            return this;
        }
        ServedLimit twin = staleTwin;
        if (twin == null) {
            twin = new ServedLimit(limit, true);
            staleTwin = twin;
        }
        return twin;
    }

    /** What {@link LimitAnswer}'s JSON holds: the state's fields but {@code grace}, then {@code stale}. */
    record Wire(@JsonUnwrapped @JsonIgnoreProperties("grace") LimitState limit, boolean stale) {
    }
}
