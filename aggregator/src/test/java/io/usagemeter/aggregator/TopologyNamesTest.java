package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
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
                Processor: apply-usage-resets (stores: [aggregator-counted-events, aggregator-event-time, aggregator-monthly-summaries, aggregator-seen-events, aggregator-usage-resets])
                  --> changed-summaries
                  <-- admin-commands-source
                Processor: count-usage (stores: [aggregator-counted-events, aggregator-event-time, aggregator-monthly-summaries, aggregator-seen-events, aggregator-usage-resets])
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
