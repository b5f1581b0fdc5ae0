package io.usagemeter.aggregator.internal;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Each user's event-time high water in one stream task: the latest {@code occurred_at} of the user's own events
 * seen so far. Dedupe decides a user's events on this clock alone, so no other user's events (and hence neither
 * the partition count nor how users interleave in a partition) change a decision.
 *
 * <p>On the heap: an open-addressing table of primitives (about 50 bytes per user at its fill). In the store: the
 * users changed since the last commit as one record per commit ({@code u|sequence}, at most
 * {@value #USERS_PER_RECORD} users each); when the records written since the last full copy hold twice as many
 * users as the table (or {@value #MAX_RECORDS} records), the whole table is written again and the older records
 * deleted, so the store holds at most about three copies of the table and a restart reads them in one range.
 */
final class UserHighWaters {

    static final long NONE = Long.MIN_VALUE;
    /** 24 bytes per user: 16,384 users are 393 KB, well under Kafka's record size limit. */
    static final int USERS_PER_RECORD = 16_384;
    private static final byte FORMAT_V1 = 1;
    private static final String PREFIX = "u|";
    private static final int MIN_CAPACITY = 64;
    /** Also a full copy when this many records accumulated, so a restart reads few records. */
    private static final int MAX_RECORDS = 1_024;

    private long[] highs;
    private long[] lows;
    private long[] waters;
    private boolean[] dirty;
    private int[] dirtySlots;
    private int dirtyCount;
    private int size;

    /** Keys of the records in the store, oldest first, and how many users they hold since the last full copy. */
    private final List<String> records = new ArrayList<>();
    private long nextRecord;
    private long usersWrittenSinceFullCopy;

    UserHighWaters() {
        allocate(MIN_CAPACITY);
    }

    /** The high waters as the last commit left them in {@code store}. */
    static UserHighWaters load(KeyValueStore<String, byte[]> store) {
        UserHighWaters waters = new UserHighWaters();
        try (KeyValueIterator<String, byte[]> all = store.range(PREFIX, StateKeys.after(PREFIX))) {
            while (all.hasNext()) {
                KeyValue<String, byte[]> record = all.next();
                ByteBuffer in = ByteBuffer.wrap(record.value);
                if (in.remaining() < 5 || in.get() != FORMAT_V1) {
                    throw new SerializationException("corrupt user high waters under " + record.key);
                }
                int count = in.getInt();
                if (count < 0 || count * 24L != in.remaining()) {
                    throw new SerializationException("corrupt user high waters under " + record.key + ": " + count
                            + " users in " + in.remaining() + " bytes");
                }
                for (int i = 0; i < count; i++) {
                    waters.raise(in.getLong(), in.getLong(), in.getLong(), false);
                }
                waters.records.add(record.key);
                waters.usersWrittenSinceFullCopy += count;
                waters.nextRecord = Math.max(waters.nextRecord, Long.parseLong(record.key.substring(PREFIX.length())) + 1);
            }
        }
        return waters;
    }

    /** Whether the store holds no high water yet (a new task, or a store of the layout before them). */
    boolean isEmpty() {
        return size == 0;
    }

    /** The user's high water, or {@link #NONE} before the user's first event. */
    long of(long userHigh, long userLow) {
        int slot = slotOf(userHigh, userLow);
        return waters[slot];
    }

    long of(UUID user) {
        return of(user.getMostSignificantBits(), user.getLeastSignificantBits());
    }

    /** Moves the user's high water to {@code atMs} if that is later; returns the high water after. */
    long raise(long userHigh, long userLow, long atMs) {
        return raise(userHigh, userLow, atMs, true);
    }

    private long raise(long userHigh, long userLow, long atMs, boolean markDirty) {
        int slot = slotOf(userHigh, userLow);
        if (waters[slot] == NONE) {
            if ((size + 1) * 4L > waters.length * 3L) {
                grow();
                slot = slotOf(userHigh, userLow);
            }
            highs[slot] = userHigh;
            lows[slot] = userLow;
            size++;
        } else if (waters[slot] >= atMs) {
            return waters[slot];
        }
        waters[slot] = atMs;
        if (markDirty && !dirty[slot]) {
            markDirty(slot);
        }
        return atMs;
    }

    private void markDirty(int slot) {
        dirty[slot] = true;
        if (dirtyCount == dirtySlots.length) {
            dirtySlots = Arrays.copyOf(dirtySlots, dirtySlots.length * 2);
        }
        dirtySlots[dirtyCount++] = slot;
    }

    int size() {
        return size;
    }

    /** Heap of the table. */
    long heapBytes() {
        return 64 + waters.length * (3L * 8 + 1) + dirtySlots.length * 4L;
    }

    /**
     * Writes the users changed since the last call; or the whole table, deleting the older records, when the records
     * written since its last full copy hold twice its users or are {@value #MAX_RECORDS}.
     */
    void writeTo(KeyValueStore<String, byte[]> store) {
        if (dirtyCount == 0) {
            return;
        }
        if (usersWrittenSinceFullCopy + dirtyCount > 2L * size || records.size() >= MAX_RECORDS) {
            List<String> old = new ArrayList<>(records);
            records.clear();
            usersWrittenSinceFullCopy = 0;
            List<Integer> all = new ArrayList<>(size);
            for (int slot = 0; slot < waters.length; slot++) {
                if (waters[slot] != NONE) {
                    all.add(slot);
                }
            }
            write(store, all);
            old.forEach(store::delete);
        } else {
            List<Integer> changed = new ArrayList<>(dirtyCount);
            for (int i = 0; i < dirtyCount; i++) {
                changed.add(dirtySlots[i]);
            }
            write(store, changed);
        }
        for (int i = 0; i < dirtyCount; i++) {
            dirty[dirtySlots[i]] = false;
        }
        dirtyCount = 0;
    }

    private void write(KeyValueStore<String, byte[]> store, List<Integer> slots) {
        for (int from = 0; from < slots.size(); from += USERS_PER_RECORD) {
            int to = Math.min(slots.size(), from + USERS_PER_RECORD);
            ByteBuffer out = ByteBuffer.allocate(1 + 4 + 24 * (to - from)).put(FORMAT_V1).putInt(to - from);
            for (int i = from; i < to; i++) {
                int slot = slots.get(i);
                out.putLong(highs[slot]).putLong(lows[slot]).putLong(waters[slot]);
            }
            String key = PREFIX + String.format(Locale.ROOT, "%019d", nextRecord++);
            store.put(key, out.array());
            records.add(key);
            usersWrittenSinceFullCopy += to - from;
        }
    }

    /** The slot of the user, or the empty slot where it would go. */
    private int slotOf(long userHigh, long userLow) {
        int mask = waters.length - 1;
        int slot = mix(userHigh, userLow) & mask;
        while (waters[slot] != NONE && (highs[slot] != userHigh || lows[slot] != userLow)) {
            slot = (slot + 1) & mask;
        }
        return slot;
    }

    private static int mix(long high, long low) {
        long h = high * 0x9e3779b97f4a7c15L ^ low * 0xc2b2ae3d27d4eb4fL;
        h ^= h >>> 31;
        return (int) (h ^ (h >>> 32));
    }

    private void grow() {
        long[] oldHighs = highs;
        long[] oldLows = lows;
        long[] oldWaters = waters;
        boolean[] oldDirty = dirty;
        allocate(oldWaters.length * 2);
        for (int slot = 0; slot < oldWaters.length; slot++) {
            if (oldWaters[slot] != NONE) {
                int to = slotOf(oldHighs[slot], oldLows[slot]);
                highs[to] = oldHighs[slot];
                lows[to] = oldLows[slot];
                waters[to] = oldWaters[slot];
                if (oldDirty[slot]) {
                    markDirty(to);
                }
            }
        }
    }

    private void allocate(int capacity) {
        highs = new long[capacity];
        lows = new long[capacity];
        waters = new long[capacity];
        Arrays.fill(waters, NONE);
        dirty = new boolean[capacity];
        dirtySlots = new int[Math.max(16, capacity / 4)];
        dirtyCount = 0;
    }
}
