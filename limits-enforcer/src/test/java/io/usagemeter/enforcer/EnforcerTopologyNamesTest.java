package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
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

    @Test
    void theDescriptionIsStable() {
        assertThat(EnforcerTopology.build(BigDecimal.ONE).describe().toString()).isEqualTo(description.toString());
    }
}
