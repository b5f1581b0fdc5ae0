package io.usagemeter.aggregator.internal;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The dedupe memory's figures across the tasks of one instance, read by the metrics endpoint while the stream
 * threads update them: remembered events, how many are held on the heap, the heap they take, the users with a
 * high water, the events carried out of dropped segments, and the reads on disk that confirmed (or not) a filter's
 * "perhaps". Task figures are refreshed at every commit.
 */
public final class DedupeMemoryMetrics {

    private final Set<Task> tasks = ConcurrentHashMap.newKeySet();
    private final LongAdder diskReads = new LongAdder();
    private final LongAdder diskHits = new LongAdder();

    /** The figures of one task's memory, registered while its store is open. */
    public final class Task {
        private volatile long remembered;
        private volatile long held;
        private volatile long heapBytes;
        private volatile long users;
        private volatile long carried;

        void update(long remembered, long held, long heapBytes, long users, long carried) {
            this.remembered = remembered;
            this.held = held;
            this.heapBytes = heapBytes;
            this.users = users;
            this.carried = carried;
        }

        void diskRead(boolean found) {
            diskReads.increment();
            if (found) {
                diskHits.increment();
            }
        }

        void close() {
            tasks.remove(this);
        }
    }

    Task open() {
        Task task = new Task();
        tasks.add(task);
        return task;
    }

    /** Events remembered by the open tasks (or forgotten in a segment not yet dropped). */
    public long rememberedEvents() {
        return tasks.stream().mapToLong(t -> t.remembered).sum();
    }

    /** How many of them are held on the heap; the others are on disk. */
    public long heldEvents() {
        return tasks.stream().mapToLong(t -> t.held).sum();
    }

    /** Heap bytes of the open tasks' memories (held events, filters and the users' high waters). */
    public long heapBytes() {
        return tasks.stream().mapToLong(t -> t.heapBytes).sum();
    }

    /** Users with an event-time high water in the open tasks. */
    public long users() {
        return tasks.stream().mapToLong(t -> t.users).sum();
    }

    /**
     * Events the open tasks carried out of a dropped segment because their user's window still held them (users who
     * sent nothing since), since each task's store began.
     */
    public long carriedEvents() {
        return tasks.stream().mapToLong(t -> t.carried).sum();
    }

    /** Look-ups on disk since start: a filter said "perhaps". */
    public long diskReads() {
        return diskReads.sum();
    }

    /** Those that found the event (a duplicate of a spilled event); the others were the filters' false "perhaps". */
    public long diskHits() {
        return diskHits.sum();
    }
}
