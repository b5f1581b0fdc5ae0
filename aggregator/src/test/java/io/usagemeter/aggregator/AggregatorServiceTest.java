package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start-up checks on a broker of its own, whose topics are deliberately wrong. */
class AggregatorServiceTest {

    @TempDir
    Path stateDir;

    @Test
    void refuses_to_start_when_events_and_commands_are_not_co_partitioned() throws Exception {
        try (TestStack broker = TestStack.start();
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.kafkaBootstrap()))) {
            AggregatorConfig config = AggregatorConfig.defaults(broker.kafkaBootstrap(), stateDir);

            try (AggregatorService service = new AggregatorService(config, Clock.systemUTC())) {
                assertThatThrownBy(service::start).hasMessageContaining(Topics.USAGE_EVENTS.name())
                        .hasMessageContaining("create them first");
            }

            admin.createTopics(List.of(
                    new NewTopic(Topics.USAGE_EVENTS.name(), Optional.of(4), Optional.empty()),
                    new NewTopic(Topics.ADMIN_COMMANDS.name(), Optional.of(2), Optional.empty()))).all().get();
            try (AggregatorService service = new AggregatorService(config, Clock.systemUTC())) {
                assertThatThrownBy(service::start)
                        .hasMessageContaining("has 4 partitions").hasMessageContaining("has 2")
                        .hasMessageContaining("co-partitioned");
            }
        }
    }
}
