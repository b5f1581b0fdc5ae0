package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.aggregator.internal.UserPartitioner;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.topics.Topics;
import java.time.YearMonth;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.junit.jupiter.api.Test;

class UserPartitionerTest {

    /** Seeded users on every partition count from 1 to 24: a failure names a user and a count that reproduce it. */
    @Test
    void a_summary_goes_to_the_partition_of_its_users_events() {
        Random random = new Random(20280229L);
        for (int n = 0; n < 50; n++) {
            UUID user = new UUID(random.nextLong(), random.nextLong());
            byte[] eventKey = Topics.USAGE_EVENTS.keySerde().serializer().serialize(Topics.USAGE_EVENTS.name(), user.toString());
            for (int partitions = 1; partitions <= 24; partitions++) {
                int eventPartition = BuiltInPartitioner.partitionForKey(eventKey, partitions);

                MonthlySummaryKey key = new MonthlySummaryKey(user, YearMonth.of(2028, 2));
                assertThat(new UserPartitioner().partitions(Topics.USAGE_SUMMARIES.name(), key, MonthlySummary.empty(key),
                        partitions)).as("user %s, %d partitions", user, partitions).contains(Set.of(eventPartition));
            }
        }
    }
}
