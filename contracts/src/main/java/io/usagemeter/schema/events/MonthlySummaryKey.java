package io.usagemeter.schema.events;

import java.time.YearMonth;
import java.util.Objects;
import java.util.UUID;

/** A user's calendar month (UTC): the key of monthly summaries. */
public record MonthlySummaryKey(UUID userId, YearMonth month) {

    public MonthlySummaryKey {
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(month, "month");
    }

    public static MonthlySummaryKey of(UsageEvent event) {
        return new MonthlySummaryKey(event.userId(), event.month());
    }
}
