package io.usagemeter.enforcer.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.UUID;
import org.apache.kafka.streams.KafkaStreams.State;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.state.HostInfo;
import org.junit.jupiter.api.Test;

class PartitionOwnersTest {

    private static final UUID USER = UUID.fromString("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d");
    private static final KeyQueryMetadata ON_A = new KeyQueryMetadata(new HostInfo("a", 1), Set.of(new HostInfo("b", 2)), 3);
    private static final KeyQueryMetadata ON_B = new KeyQueryMetadata(new HostInfo("b", 2), Set.of(new HostInfo("a", 1)), 3);

    @Test
    void remembersTheOwnersUntilTheAppChangesState() {
        PartitionOwners owners = new PartitionOwners();
        assertThat(owners.known(USER)).isNull();

        owners.remember(USER, ON_A, owners.generation());
        assertThat(owners.known(USER)).isEqualTo(ON_A);

        owners.onChange(State.REBALANCING, State.RUNNING);
        assertThat(owners.known(USER)).isNull();
        owners.remember(USER, ON_B, owners.generation());
        assertThat(owners.known(USER)).isEqualTo(ON_B);
        owners.onChange(State.RUNNING, State.REBALANCING);
        assertThat(owners.known(USER)).isNull();
    }

    @Test
    void anAnswerAskedBeforeAStateChangeIsNotKept() {
        PartitionOwners owners = new PartitionOwners();
        long askedAt = owners.generation();

        owners.onChange(State.REBALANCING, State.RUNNING);
        owners.remember(USER, ON_A, askedAt);

        assertThat(owners.known(USER)).isNull();
    }

    @Test
    void unknownOwnersAreNotKept() {
        PartitionOwners owners = new PartitionOwners();

        owners.remember(USER, KeyQueryMetadata.NOT_AVAILABLE, owners.generation());
        owners.remember(USER, null, owners.generation());

        assertThat(owners.known(USER)).isNull();
    }
}
