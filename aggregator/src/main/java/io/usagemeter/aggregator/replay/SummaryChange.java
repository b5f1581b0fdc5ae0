package io.usagemeter.aggregator.replay;

import com.fasterxml.jackson.annotation.JsonProperty;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;

/**
 * One (user, month) whose numbers the replay found different: on the summaries topic ({@code stream},
 * the aggregator's latest output), in PostgreSQL ({@code database}) and as rebuilt from the event
 * log ({@code rebuilt}); a missing one is {@code null}.
 */
public record SummaryChange(MonthlySummaryKey key, Kind kind, MonthlySummary stream, MonthlySummary database,
                            MonthlySummary rebuilt) {

    public enum Kind {
        /** The stream agrees with the rebuild, the database row does not: the replay rewrites the row. */
        @JsonProperty("database_repaired") DATABASE_REPAIRED,
        /**
         * The live aggregator's output differs from the rebuild even after catching up with new input:
         * its state or code differs from what the log gives. Not published (it would be overwritten by the
         * aggregator's next summary of the user); rebuild the aggregator itself (docs/operations/rewind.md).
         */
        @JsonProperty("stream_diverges") STREAM_DIVERGES
    }
}
