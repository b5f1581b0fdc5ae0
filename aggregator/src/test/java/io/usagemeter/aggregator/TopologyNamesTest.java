package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Guards the names of processors and stores: the changelog topics are named after the stores, so
 * renaming one would silently start an empty store after an upgrade. Change this test only together
 * with a migration note.
 */
class TopologyNamesTest {

    @TempDir
    Path stateDir;

    private static final String EXPECTED = """
            Topologies:
               Sub-topology: 0
                Source: admin-commands-source (topics: [meter.admin-commands])
                  --> apply-usage-resets
                Source: usage-events-source (topics: [meter.usage-events])
                  --> count-usage
                Processor: apply-usage-resets (stores: [aggregator-monthly-summaries, aggregator-recent-events, aggregator-usage-resets])
                  --> changed-summaries
                  <-- admin-commands-source
                Processor: count-usage (stores: [aggregator-monthly-summaries, aggregator-recent-events, aggregator-usage-resets])
                  --> changed-summaries
                  <-- usage-events-source
                Processor: changed-summaries (stores: [])
                  --> usage-summaries-sink
                  <-- count-usage, apply-usage-resets
                Sink: usage-summaries-sink (topic: meter.usage-summaries)
                  <-- changed-summaries
            """;

    @Test
    void processors_stores_and_topics_keep_their_names() {
        Topology topology = AggregatorTopology.build(AggregatorConfig.defaults("localhost:9092", stateDir));
        TopologyDescription description = topology.describe();

        assertThat(withSortedStores(description.toString())).isEqualToIgnoringWhitespace(EXPECTED);
        assertThat(description.subtopologies()).as("no repartitioning: one sub-topology").hasSize(1);
    }

    /**
     * A replay's rebuild runs the same processors on the same stores, and writes nothing to Kafka: no
     * summaries (they are read from its store) and no changelogs (it is never resumed).
     */
    @Test
    void the_rebuild_has_the_same_processors_and_stores_and_produces_nothing() {
        AggregatorConfig config = AggregatorConfig.defaults("localhost:9092", stateDir);
        String rebuild = withSortedStores(AggregatorTopology.rebuild(config).describe().toString());
        assertThat(rebuild).doesNotContain("Sink:").doesNotContain(Topics.USAGE_SUMMARIES.name());
        for (String line : EXPECTED.lines().map(String::strip).filter(l -> l.startsWith("Processor: count-usage")
                || l.startsWith("Processor: apply-usage-resets") || l.startsWith("Source:")).toList()) {
            assertThat(rebuild).contains(line);
        }

        UUID user = UUID.randomUUID();
        UsageEvent event = AggregatorDriver.event("e-1", user, "2026-03-04T05:06:07Z");
        try (TopologyTestDriver live = new TopologyTestDriver(AggregatorTopology.build(config), config.streamsProperties())) {
            live.createInputTopic(Topics.USAGE_EVENTS.name(), Topics.USAGE_EVENTS.keySerde().serializer(),
                    Topics.USAGE_EVENTS.valueSerde().serializer()).pipeInput(user.toString(), event, event.occurredAt());
            live.advanceWallClockTime(config.commitInterval());
            assertThat(live.producedTopicNames()).as("the live aggregator publishes and logs its stores")
                    .contains(Topics.USAGE_SUMMARIES.name(), config.applicationId() + "-"
                            + AggregatorTopology.RECENT_EVENTS_STORE + "-changelog");
        }
        try (TopologyTestDriver replay = new TopologyTestDriver(AggregatorTopology.rebuild(config), config.streamsProperties())) {
            replay.createInputTopic(Topics.USAGE_EVENTS.name(), Topics.USAGE_EVENTS.keySerde().serializer(),
                    Topics.USAGE_EVENTS.valueSerde().serializer()).pipeInput(user.toString(), event, event.occurredAt());
            assertThat(replay.producedTopicNames()).isEmpty();
            KeyValueStore<String, MonthlySummary> summaries = replay.getKeyValueStore(AggregatorTopology.MONTHLY_SUMMARIES_STORE);
            try (var all = summaries.all()) {
                assertThat(all.next().value.units()).isEqualTo(event.units());
                assertThat(all.hasNext()).isFalse();
            }
        }
    }

    /** The description lists a processor's stores in hash order; sort them so the text is stable. */
    private static String withSortedStores(String description) {
        Matcher m = Pattern.compile("\\(stores: \\[([^\\]]*)]\\)").matcher(description);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String sorted = Arrays.stream(m.group(1).split(", ")).sorted().collect(Collectors.joining(", "));
            m.appendReplacement(out, Matcher.quoteReplacement("(stores: [" + sorted + "])"));
        }
        return m.appendTail(out).toString();
    }
}
