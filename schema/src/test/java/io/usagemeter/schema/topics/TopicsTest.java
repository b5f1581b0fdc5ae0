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
    void settingsComeFromEnvironmentWithDefaults() {
        assertThat(TopicSettings.fromEnv(Map.of())).isEqualTo(TopicSettings.singleBroker());
        TopicSettings prod = TopicSettings.fromEnv(Map.of("METER_KAFKA_REPLICATION_FACTOR", "3", "METER_KAFKA_PARTITIONS", "24"));
        assertThat(prod).isEqualTo(new TopicSettings(24, (short) 3, 2, Duration.ofDays(62)));
    }

    @Test
    void badSettingsFailNamingTheVariable() {
        assertThatThrownBy(() -> TopicSettings.fromEnv(Map.of("METER_KAFKA_PARTITIONS", "many")))
                .hasMessageContaining("METER_KAFKA_PARTITIONS");
        assertThatThrownBy(() -> TopicSettings.fromEnv(Map.of("METER_KAFKA_MIN_INSYNC_REPLICAS", "2")))
                .hasMessageContaining("METER_KAFKA_MIN_INSYNC_REPLICAS")
                .hasMessageContaining("replication factor 1");
    }
}
