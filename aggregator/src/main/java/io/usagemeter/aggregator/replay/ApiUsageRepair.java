package io.usagemeter.aggregator.replay;

import java.time.YearMonth;
import java.util.List;
import java.util.UUID;

/**
 * What a replay did to {@code api_usage} in its months (on a dry run: would do).
 *
 * @param eventsLogged events of the log read that the sink would store (invalid ones are the dead letters')
 * @param rowsInserted rows the sink's rules give from the log that were missing
 * @param rowsRewritten rows whose columns differed from the event's first copy (all but {@code ingested_at})
 * @param rowsRemoved rows of an event the log holds that its rules do not give (e.g. a second copy)
 * @param rowsKeptNotInLog rows of events the log read does not hold (adopted from the older system, written
 *     before the topic existed, or from events after the replay's end): kept, the log is not their source
 * @param changes per user and month with anything inserted, rewritten or removed
 */
public record ApiUsageRepair(long eventsLogged, long rowsInserted, long rowsRewritten, long rowsRemoved,
                             long rowsKeptNotInLog, List<Change> changes) {

    public ApiUsageRepair {
        changes = List.copyOf(changes);
    }

    /** One user's rows of one month that the replay changes. */
    public record Change(UUID userId, YearMonth month, long inserted, long rewritten, long removed) {
    }
}
