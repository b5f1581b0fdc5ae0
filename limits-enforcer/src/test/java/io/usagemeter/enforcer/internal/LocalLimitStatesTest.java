package io.usagemeter.enforcer.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.enforcer.Entitlement;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.schema.events.LimitState;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.YearMonth;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class LocalLimitStatesTest {

    private static final YearMonth MONTH = YearMonth.of(2026, 12);
    private static final UUID USER = UUID.fromString("6f1c1f8e-3c1a-4a57-9d0e-0b6d1c2f3a4b");

    private static LimitState used(UUID user, long units) {
        return LimitRules.explain(user, MONTH, Entitlement.DEFAULT, 1000, units, BigDecimal.ZERO,
                Instant.parse("2026-12-05T10:00:00Z").plusSeconds(units));
    }

    @Test
    void aPartitionIsHeldOnlyWhileItsTaskRunsAndStartsEmpty() {
        LocalLimitStates held = new LocalLimitStates();
        held.written(3, used(USER, 10));
        assertThat(held.running(3)).as("not running: writes are not kept").isNull();

        LocalLimitStates.Partition copy = held.started(3);
        held.written(3, used(USER, 20));
        assertThat(held.heldIn(3)).isEqualTo(Map.of(USER, Optional.of(used(USER, 20))));
        assertThat(held.runningPartitions()).containsExactly(3);

        held.stopped(3, copy);
        assertThat(held.running(3)).isNull();
        assertThat(held.heldIn(3)).isEmpty();

        held.started(3);
        assertThat(held.heldIn(3)).as("a restarted task's copy starts empty, whatever was held before").isEmpty();
    }

    @Test
    void aStopOfAnEarlierStartLeavesTheLaterCopy() {
        LocalLimitStates held = new LocalLimitStates();
        LocalLimitStates.Partition first = held.started(1);
        LocalLimitStates.Partition second = held.started(1);
        held.written(1, used(USER, 5));

        held.stopped(1, first);

        assertThat(held.running(1)).isSameAs(second);
        assertThat(held.heldIn(1)).containsEntry(USER, Optional.of(used(USER, 5)));
        held.stopped(1, second);
        assertThat(held.running(1)).isNull();
    }

    @Test
    void aStoreReadNeverReplacesAWriteThatCameFirst() {
        LocalLimitStates held = new LocalLimitStates();
        LocalLimitStates.Partition copy = held.started(0);
        // A reader misses, reads the store (the older state), and meanwhile the processor writes a newer one.
        ConcurrentHashMap<UUID, LocalLimitStates.Held> looked = copy.users();
        LimitState readFromStore = used(USER, 100);
        held.written(0, used(USER, 200));

        LocalLimitStates.Held kept = copy.learned(looked, USER, readFromStore);

        assertThat(kept.state).isEqualTo(used(USER, 200));
        assertThat(copy.users().get(USER).state).isEqualTo(used(USER, 200));
    }

    @Test
    void aUserTheStoreDoesNotHoldIsHeldAsNoneUntilWritten() {
        LocalLimitStates held = new LocalLimitStates();
        LocalLimitStates.Partition copy = held.started(0);

        LocalLimitStates.Held none = copy.learned(copy.users(), USER, null);
        assertThat(none.state).isNull();
        assertThat(held.heldIn(0)).isEqualTo(Map.of(USER, Optional.empty()));

        held.written(0, used(USER, 1));
        assertThat(held.heldIn(0)).isEqualTo(Map.of(USER, Optional.of(used(USER, 1))));
    }

    @Test
    void pastItsBoundTheLargestCopyIsReplacedWholeSoALateReaderCannotPutBackAnOlderState() {
        LocalLimitStates held = new LocalLimitStates(3);
        LocalLimitStates.Partition small = held.started(0);
        LocalLimitStates.Partition large = held.started(1);
        held.written(0, used(new UUID(0, 1), 1));
        held.written(1, used(new UUID(1, 1), 1));
        // A reader looked in partition 1's map and read USER's older state from the store ...
        ConcurrentHashMap<UUID, LocalLimitStates.Held> looked = large.users();
        LimitState older = used(USER, 1);
        held.written(1, used(new UUID(1, 2), 1));
        // ... meanwhile a fourth user is written: the largest copy (partition 1) is emptied first.
        held.written(1, used(USER, 2));

        assertThat(large.users()).as("replaced whole, then the write").isNotSameAs(looked)
                .containsOnlyKeys(USER);
        assertThat(small.users()).hasSize(1);
        large.learned(looked, USER, older);

        assertThat(held.heldIn(1)).isEqualTo(Map.of(USER, Optional.of(used(USER, 2))));
    }

    @Test
    void aReaderPastTheBoundEmptiesTheLargestCopyAndKeepsItsReadInTheMapItLookedIn() {
        LocalLimitStates held = new LocalLimitStates(2);
        LocalLimitStates.Partition copy = held.started(0);
        held.written(0, used(new UUID(0, 1), 1));
        held.written(0, used(new UUID(0, 2), 1));
        ConcurrentHashMap<UUID, LocalLimitStates.Held> looked = copy.users();

        LocalLimitStates.Held read = copy.learned(looked, USER, used(USER, 7));

        assertThat(read.state).isEqualTo(used(USER, 7));
        assertThat(copy.users()).isNotSameAs(looked).isEmpty();
    }

    @Test
    void planChangesAreCounted() {
        LocalLimitStates held = new LocalLimitStates();
        long before = held.planChanges();

        held.plansChanged();

        assertThat(held.planChanges()).isNotEqualTo(before);
    }
}
