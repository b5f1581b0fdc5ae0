package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.streams.TopologyDescription;
import org.junit.jupiter.api.Test;

/** Store, repartition and processor names are part of the deployed state: renaming one loses it. */
class EnforcerTopologyNamesTest {

    private final TopologyDescription description = EnforcerTopology.build(BigDecimal.ZERO).describe();

    @Test
    void storesAndRepartitionTopicKeepTheirNames() {
        Set<String> stores = new TreeSet<>();
        Set<String> nodes = new TreeSet<>();
        description.subtopologies().forEach(sub -> sub.nodes().forEach(node -> {
            nodes.add(node.name());
            if (node instanceof TopologyDescription.Processor p) {
                stores.addAll(p.stores());
            }
        }));
        description.globalStores().forEach(g -> stores.addAll(g.processor().stores()));

        assertThat(stores).containsExactlyInAnyOrder(
                "enforcer-plans", "enforcer-referrals-by-referred", "enforcer-referral-refusals",
                "enforcer-entitlements", "enforcer-monthly-usage", "enforcer-limit-states",
                "enforcer-emitted-thresholds", "enforcer-applied-commands");
        assertThat(nodes).contains(
                "referrals-source", "referral-decider", "referral-rekey-by-referrer",
                "enforcer-referrals-by-referrer-repartition-sink", "enforcer-referrals-by-referrer-repartition-source",
                "referral-credits", "admin-commands-source", "admin-commands", "usage-summaries-source",
                "usage-summaries", "limit-events-from-commands", "limit-events-from-referrals", "limit-events-sink");
    }

    @Test
    void everyUserKeyedInputSharesOneSubTopology() {
        // The user's stores must be in the same task as summaries, commands and referral credits.
        var userSubtopology = description.subtopologies().stream()
                .filter(sub -> sub.nodes().stream().anyMatch(n -> n.name().equals("usage-summaries")))
                .findFirst().orElseThrow();
        assertThat(userSubtopology.nodes()).extracting(TopologyDescription.Node::name)
                .contains("admin-commands", "referral-credits", "limit-events-sink");
        assertThat(description.subtopologies()).hasSize(2);
    }

    /** What locates a user's partition of the limits store: the topics its sub-topology reads, named as deployed. */
    @Test
    void theUserStoresSourceTopicsAreThoseTheirSubTopologyReads() {
        var userSubtopology = description.subtopologies().stream()
                .filter(sub -> sub.nodes().stream().anyMatch(n -> n instanceof TopologyDescription.Processor p
                        && p.stores().contains(EnforcerTopology.LIMITS_STORE)))
                .findFirst().orElseThrow();
        Set<String> read = new TreeSet<>();
        userSubtopology.nodes().forEach(node -> {
            if (node instanceof TopologyDescription.Source source) {
                // An internal topic is described without the application id it is prefixed with when deployed.
                source.topicSet().forEach(t -> read.add(t.startsWith("enforcer-") ? "app-" + t : t));
            }
        });

        assertThat(read).containsExactlyInAnyOrderElementsOf(EnforcerTopology.userStoreSourceTopics("app"));
    }

    /**
     * The topics it reads and writes, spelled out: the wire names of the contract, and the internal topic
     * whose name (with the application id) holds the repartitioned referrals. Any grace gives the same.
     */
    @Test
    void readsAndWritesTheContractsTopicsByName() {
        for (BigDecimal grace : List.of(BigDecimal.ZERO, new BigDecimal("0.1"))) {
            TopologyDescription described = EnforcerTopology.build(grace).describe();
            Set<String> read = new TreeSet<>();
            Set<String> written = new TreeSet<>();
            described.subtopologies().forEach(sub -> sub.nodes().forEach(node -> {
                if (node instanceof TopologyDescription.Source source) {
                    read.addAll(source.topicSet());
                } else if (node instanceof TopologyDescription.Sink sink) {
                    written.add(sink.topic());
                }
            }));
            described.globalStores().forEach(g -> read.addAll(g.source().topicSet()));

            assertThat(read).as("grace %s", grace).containsExactlyInAnyOrder("meter.plans", "meter.referrals",
                    "meter.admin-commands", "meter.usage-summaries", "enforcer-referrals-by-referrer-repartition");
            assertThat(written).as("grace %s", grace).containsExactlyInAnyOrder("meter.limit-events",
                    "enforcer-referrals-by-referrer-repartition");
        }
    }
}
