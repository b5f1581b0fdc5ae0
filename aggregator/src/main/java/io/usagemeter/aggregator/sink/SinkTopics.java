package io.usagemeter.aggregator.sink;

import io.usagemeter.schema.topics.Topics;
import java.util.Objects;

/**
 * The topics the sink reads and the one it parks unreadable records in. Serdes always come from
 * {@link Topics}; only the names may differ (tests give each run topics of its own).
 */
public record SinkTopics(String usageSummaries, String usageEvents, String deadLetter) {

    public SinkTopics {
        Objects.requireNonNull(usageSummaries, "usageSummaries");
        Objects.requireNonNull(usageEvents, "usageEvents");
        Objects.requireNonNull(deadLetter, "deadLetter");
        if (usageSummaries.equals(usageEvents)) {
            throw new IllegalArgumentException("summaries and events need topics of their own, both were " + usageEvents);
        }
    }

    public static SinkTopics standard() {
        return new SinkTopics(Topics.USAGE_SUMMARIES.name(), Topics.USAGE_EVENTS.name(), Topics.DEAD_LETTER.name());
    }
}
