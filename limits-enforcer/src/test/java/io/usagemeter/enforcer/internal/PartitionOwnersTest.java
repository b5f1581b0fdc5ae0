package io.usagemeter.enforcer.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.internals.StreamsMetadataImpl;
import org.junit.jupiter.api.Test;

/** The table's arithmetic; that it answers as {@code queryMetadataForKey} on a live cluster is in the ITs. */
class PartitionOwnersTest {

    private static final String STORE = "limits";
    private static final String SUMMARIES = "summaries";
    private static final String COMMANDS = "commands";
    private static final HostInfo A = new HostInfo("a", 1);
    private static final HostInfo B = new HostInfo("b", 2);

    private final PartitionOwners owners = new PartitionOwners(STORE, List.of(SUMMARIES, COMMANDS));

    private static Set<TopicPartition> partitions(String topic, int... numbers) {
        return IntStream.of(numbers).mapToObj(p -> new TopicPartition(topic, p)).collect(Collectors.toSet());
    }

    private static Set<TopicPartition> union(Set<TopicPartition> one, Set<TopicPartition> other) {
        return java.util.stream.Stream.concat(one.stream(), other.stream()).collect(Collectors.toSet());
    }

    @Test
    void eachPartitionHasTheHostThatHoldsItActiveAndThoseThatHoldItAsStandby() {
        // A topic of another sub-topology ("referrals", more partitions, on other hosts) counts for nothing.
        StreamsMetadata a = new StreamsMetadataImpl(A, Set.of(STORE, "other"),
                union(union(partitions(SUMMARIES, 0, 2), partitions(COMMANDS, 0, 2)), partitions("referrals", 1, 7)),
                Set.of(STORE), union(partitions(SUMMARIES, 1), partitions(COMMANDS, 1)));
        StreamsMetadata b = new StreamsMetadataImpl(B, Set.of(STORE),
                union(partitions(SUMMARIES, 1), partitions(COMMANDS, 1)),
                Set.of(STORE), union(partitions(SUMMARIES, 0), partitions(COMMANDS, 0)));

        KeyQueryMetadata[] table = owners.tableOf(List.of(a, b)).byPartition();

        assertThat(table).containsExactly(
                new KeyQueryMetadata(A, Set.of(B), 0),
                new KeyQueryMetadata(B, Set.of(A), 1),
                new KeyQueryMetadata(A, Set.of(), 2));
    }

    @Test
    void aPartitionNoHostHoldsActiveHasTheUnavailableHost() {
        StreamsMetadata a = new StreamsMetadataImpl(A, Set.of(STORE), partitions(SUMMARIES, 0),
                Set.of(STORE), partitions(SUMMARIES, 1));

        KeyQueryMetadata[] table = owners.tableOf(List.of(a)).byPartition();

        assertThat(table[1]).isEqualTo(new KeyQueryMetadata(HostInfo.unavailable(), Set.of(A), 1));
    }

    @Test
    void noMetadataIsNoTable() {
        assertThat(owners.tableOf(List.of())).isNull();
        StreamsMetadata elsewhere = new StreamsMetadataImpl(A, Set.of("other"), partitions("referrals", 0),
                Set.of(), Set.of());
        assertThat(owners.tableOf(List.of(elsewhere))).isNull();
    }

    @Test
    void theUsersPartitionIsTheBuiltInPartitionersOfItsIdText() {
        // Kafka Streams' default partitioner hands the serialized key to the producer's built-in partitioner.
        for (int partitions : new int[] {1, 3, 6, 12}) {
            for (int i = 0; i < 500; i++) {
                UUID user = UUID.randomUUID();
                int expected = BuiltInPartitioner.partitionForKey(
                        Serdes.String().serializer().serialize(SUMMARIES, user.toString()), partitions);
                assertThat(PartitionOwners.partition(user, partitions)).as("%s of %d", user, partitions)
                        .isEqualTo(expected);
            }
        }
    }
}
