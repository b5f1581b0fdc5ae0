package io.usagemeter.schema.topics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TopicsTest {

    @Test
    void registryHoldsEveryTopicOnceWithStableNames() {
        assertThat(Topics.all()).extracting(Topic::name).containsExactly(
                "meter.usage-events", "meter.referrals", "meter.admin-commands",
                "meter.usage-summaries", "meter.limit-events", "meter.dead-letter");
    }

    @Test
    void usageEventsAreKeptSixtyTwoDaysAndSummariesCompacted() {
        assertThat(Topics.USAGE_EVENTS.configs())
                .containsEntry("cleanup.policy", "delete")
                .containsEntry("retention.ms", Long.toString(Duration.ofDays(62).toMillis()))
                .containsEntry("min.insync.replicas", "1");
        assertThat(Topics.USAGE_SUMMARIES.configs()).containsEntry("cleanup.policy", "compact");
        assertThat(Topics.ADMIN_COMMANDS.configs()).containsEntry("retention.ms", "-1");
        assertThat(Topics.REFERRALS.configs()).containsEntry("retention.ms", "-1");
    }

    @Test
    void settingsResizeEveryTopicButKeepNamesAndSerdes() {
        TopicSettings settings = new TopicSettings(12, (short) 3, 2, Duration.ofDays(90));
        assertThat(Topics.all(settings)).allSatisfy(t -> {
            assertThat(t.partitions()).isEqualTo(12);
            assertThat(t.minInsyncReplicas()).isEqualTo(2);
        });
        Topic<?, ?> usage = Topics.all(settings).get(0);
        assertThat(usage.name()).isEqualTo(Topics.USAGE_EVENTS.name());
        assertThat(usage.valueSerde()).isSameAs(Topics.USAGE_EVENTS.valueSerde());
        assertThat(usage.retention()).isEqualTo(Duration.ofDays(90));
        assertThat(Topics.all(settings).get(4).retention()).isEqualTo(Topics.LIMIT_EVENTS.retention());
    }

    @Test
    void settingsComeFromEnvironmentWithReplicationFromTheCluster() {
        TopicSettings unset = TopicSettings.fromEnv(Map.of());
        assertThat(unset).isEqualTo(new TopicSettings(6, TopicSettings.AUTO, TopicSettings.AUTO, Duration.ofDays(62)));
        assertThat(unset.resolved()).isFalse();
        // One broker (dev, tests): replication 1, with warnings. Three or more: 3 replicas, 2 in sync, none.
        assertThat(unset.resolve(1)).isEqualTo(TopicSettings.singleBroker());
        assertThat(unset.resolve(1).warnings(1)).singleElement().satisfies(w -> assertThat(w).contains("production needs"));
        assertThat(unset.resolve(2)).isEqualTo(new TopicSettings(6, (short) 2, 1, Duration.ofDays(62)));
        assertThat(unset.resolve(3)).isEqualTo(new TopicSettings(6, (short) 3, 2, Duration.ofDays(62)));
        assertThat(unset.resolve(5)).isEqualTo(new TopicSettings(6, (short) 3, 2, Duration.ofDays(62)));
        assertThat(unset.resolve(5).warnings(5)).isEmpty();
        assertThat(unset.resolve(3).streamsProperties())
                .containsEntry("replication.factor", 3).containsEntry("topic.min.insync.replicas", "2");

        TopicSettings prod = TopicSettings.fromEnv(Map.of("METER_KAFKA_REPLICATION_FACTOR", "3", "METER_KAFKA_PARTITIONS", "24"));
        assertThat(prod.resolve(3)).isEqualTo(new TopicSettings(24, (short) 3, 2, Duration.ofDays(62)));
        // Less than production on a big cluster is allowed, with a warning.
        TopicSettings thin = TopicSettings.fromEnv(Map.of("METER_KAFKA_REPLICATION_FACTOR", "1"));
        assertThat(thin.resolve(3).replicationFactor()).isEqualTo((short) 1);
        assertThat(thin.resolve(3).warnings(3)).anySatisfy(w -> assertThat(w).contains("replication factor 1")
                .contains("METER_KAFKA_REPLICATION_FACTOR"));
    }

    @Test
    void badSettingsFailNamingTheVariable() {
        assertThatThrownBy(() -> TopicSettings.fromEnv(Map.of("METER_KAFKA_PARTITIONS", "many")))
                .hasMessageContaining("METER_KAFKA_PARTITIONS");
        assertThatThrownBy(() -> TopicSettings.fromEnv(Map.of("METER_KAFKA_REPLICATION_FACTOR", "1",
                "METER_KAFKA_MIN_INSYNC_REPLICAS", "2")))
                .hasMessageContaining("METER_KAFKA_MIN_INSYNC_REPLICAS")
                .hasMessageContaining("replication factor 1");
        assertThatThrownBy(() -> TopicSettings.fromEnv(Map.of("METER_KAFKA_MIN_INSYNC_REPLICAS", "2")).resolve(1))
                .hasMessageContaining("METER_KAFKA_MIN_INSYNC_REPLICAS");
        assertThatThrownBy(() -> TopicSettings.fromEnv(Map.of("METER_KAFKA_REPLICATION_FACTOR", "3")).resolve(1))
                .hasMessageContaining("METER_KAFKA_REPLICATION_FACTOR").hasMessageContaining("only 1 broker");
    }
}
