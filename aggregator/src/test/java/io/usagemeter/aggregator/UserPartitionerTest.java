package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.aggregator.internal.UserPartitioner;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.topics.Topics;
import java.time.YearMonth;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.junit.jupiter.api.RepeatedTest;

class UserPartitionerTest {

    @RepeatedTest(50)
    void a_summary_goes_to_the_partition_of_its_users_events() {
        UUID user = UUID.randomUUID();
        int partitions = 1 + (int) (Math.random() * 24);
        byte[] eventKey = Topics.USAGE_EVENTS.keySerde().serializer().serialize(Topics.USAGE_EVENTS.name(), user.toString());
        int eventPartition = BuiltInPartitioner.partitionForKey(eventKey, partitions);

        MonthlySummaryKey key = new MonthlySummaryKey(user, YearMonth.of(2028, 2));
        assertThat(new UserPartitioner().partitions(Topics.USAGE_SUMMARIES.name(), key, MonthlySummary.empty(key), partitions))
                .contains(Set.of(eventPartition));
    }
}
