package io.usagemeter.enforcer.internal;

import io.usagemeter.schema.events.LimitState;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The limit states of the partitions whose active task runs in this instance, in memory, as the task's processors
 * write them: what a limit check reads, one map lookup, instead of a store query (Kafka Streams finds a task's store
 * under locks its stream threads also take, on every read).
 *
 * <p>A partition's copy never holds a state its store no longer holds:
 * <ul>
 *   <li>it exists only while the task's processors run: made empty when they start (after the task restored its
 *       stores) and dropped when they stop (Kafka Streams stops them before it suspends, closes, wipes or recycles
 *       the task into a standby, so before anything but the processors writes the store);</li>
 *   <li>each write of the processors goes to the store first, then replaces the copy's entry;</li>
 *   <li>a state read from the store on a miss is added only if no write came first ({@code putIfAbsent}), into
 *       the map the reader looked in before reading the store;</li>
 *   <li>memory is bounded: when the instance holds {@link #maxUsers} users, the largest partition's map is replaced
 *       whole by an empty one (its users are read from the store again), never trimmed per user, so a reader late
 *       with an older state can only add it to a map no one reads any more.</li>
 * </ul>
 * Standby copies are not held: their stores change by restoration, outside any processor; they are read from the
 * store, as is a partition whose task restores.
 */
public final class LocalLimitStates {

    /** About 1 KB each (the state and its answer's JSON): 200 MB at most. */
    static final int MAX_USERS = 200_000;

    private final int maxUsers;
    private final ConcurrentHashMap<Integer, Partition> running = new ConcurrentHashMap<>();
    private final AtomicLong planChanges = new AtomicLong();

    public LocalLimitStates() {
        this(MAX_USERS);
    }

    /** @param maxUsers how many users the instance holds at most, over all its partitions */
    LocalLimitStates(int maxUsers) {
        this.maxUsers = maxUsers;
    }

    /** The task of {@code partition} starts its processors: its copy starts empty (its store is restored). */
    Partition started(int partition) {
        Partition copy = new Partition(this);
        running.put(partition, copy);
        return copy;
    }

    /** The task's processors stop: its copy goes, unless a later start of the partition replaced it. */
    void stopped(int partition, Partition copy) {
        running.remove(partition, copy);
    }

    /** A processor of the partition's task wrote {@code state} to the limits store. */
    void written(int partition, LimitState state) {
        Partition copy = running.get(partition);
        if (copy != null) {
            copy.written(state);
        }
    }

    /** The copy of a partition whose task runs here, or null (not here, a standby, restoring or stopping). */
    Partition running(int partition) {
        return running.get(partition);
    }

    /** The partitions whose copy is held: their tasks run here. */
    public Set<Integer> runningPartitions() {
        return Set.copyOf(running.keySet());
    }

    /**
     * What the copy of {@code partition} holds now, by user: the state, or empty when the store held none when the
     * user was read; an empty map when the partition does not run here.
     */
    public Map<UUID, Optional<LimitState>> heldIn(int partition) {
        Partition copy = running.get(partition);
        if (copy == null) {
            return Map.of();
        }
        Map<UUID, Optional<LimitState>> held = new HashMap<>();
        copy.users().forEach((user, entry) -> held.put(user, Optional.ofNullable(entry.state)));
        return held;
    }

    /** The plans store changed (its processor wrote it): plans read before must be read again. */
    void plansChanged() {
        planChanges.incrementAndGet();
    }

    /** Changes whenever the plans store changed. */
    long planChanges() {
        return planChanges.get();
    }

    /** Makes room for one more user: empties the largest copy when the instance holds {@link #maxUsers}. */
    private void makeRoom() {
        int held = 0;
        Partition largest = null;
        for (Partition copy : running.values()) {
            int size = copy.users().size();
            held += size;
            if (largest == null || size > largest.users().size()) {
                largest = copy;
            }
        }
        if (held >= maxUsers && largest != null) {
            largest.empty();
        }
    }

    /** One partition's users, as its task's processors wrote them or as its store held them when first read. */
    static final class Partition {
        private final LocalLimitStates states;
        private final AtomicReference<ConcurrentHashMap<UUID, Held>> users =
                new AtomicReference<>(new ConcurrentHashMap<>());

        private Partition(LocalLimitStates states) {
            this.states = states;
        }

        /** The map to read and, after a store read, to {@link #learned learn} into. */
        ConcurrentHashMap<UUID, Held> users() {
            return users.get();
        }

        /**
         * What the store held for {@code user}, read after {@code users} was taken from {@link #users()}: kept
         * unless a write came first.
         *
         * @param stored null when the store holds no state of the user
         * @return the entry the map holds now
         */
        Held learned(ConcurrentHashMap<UUID, Held> users, UUID user, LimitState stored) {
            states.makeRoom();
            Held fresh = new Held(stored);
            Held known = users.putIfAbsent(user, fresh);
            return known == null ? fresh : known;
        }

        private void written(LimitState state) {
            if (!users.get().containsKey(state.userId())) {
                states.makeRoom();
            }
            users.get().put(state.userId(), new Held(state));
        }

        private void empty() {
            users.set(new ConcurrentHashMap<>());
        }
    }

    /** A user's stored state (null: none stored) and the answer last derived from it. */
    static final class Held {
        final LimitState state;
        /**
         * Derived from {@link #state} on first read, and again when the month or the plan's units moved; a function
         * of those alone, so readers racing to set it set equal answers.
         */
        volatile ServedLimit served;

        Held(LimitState state) {
            this.state = state;
        }
    }
}
