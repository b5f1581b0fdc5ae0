package io.usagemeter.aggregator.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * Remembered events spilled from the heap to the dedupe memory's store: sorted by user, identity hash and id
 * ({@link RememberedEvent#DISK_ORDER}), cut into blocks of {@value #BLOCK_EVENTS} named by their first event,
 * so that one event is found by reading one block and one user's events by reading the blocks that hold them.
 * The run also stores the identity hash of each event, from which its filter (and its segment's) is rebuilt
 * when the task starts without reading the events themselves.
 *
 * <p>On the heap a run is its filter and a few numbers: {@link EventFilter} at {@value #FILTER_BITS} bits per
 * event.
 */
final class SortedRun {

    /** ~12 KB blocks: one read confirms a filter's "perhaps". */
    static final int BLOCK_EVENTS = 128;
    /** 32,768 hashes (256 KB) per record, far below Kafka's record size limit. */
    static final int HASHES_PER_RECORD = 32_768;
    /** About 1 % false "perhaps": consulted only after the segment's filter said "perhaps". */
    static final double FILTER_BITS = 10.5;

    private final long id;
    private final long segment;
    private final int events;
    private final long latestRememberedAtMs;
    private final EventFilter filter;

    private SortedRun(long id, long segment, int events, long latestRememberedAtMs, EventFilter filter) {
        this.id = id;
        this.segment = segment;
        this.events = events;
        this.latestRememberedAtMs = latestRememberedAtMs;
        this.filter = filter;
    }

    /**
     * Writes {@code events} (of one segment, each identity at most once) to {@code store} as run {@code id}, and
     * adds their hashes to {@code segmentFilter}.
     */
    static SortedRun write(KeyValueStore<String, byte[]> store, long id, long segment, List<RememberedEvent> events,
                           SegmentFilter segmentFilter) {
        List<RememberedEvent> sorted = new ArrayList<>(events);
        sorted.sort(RememberedEvent.DISK_ORDER);
        EventFilter filter = new EventFilter(sorted.size(), FILTER_BITS);
        long[] hashes = new long[sorted.size()];
        long latest = Long.MIN_VALUE;
        for (int i = 0; i < sorted.size(); i++) {
            RememberedEvent e = sorted.get(i);
            hashes[i] = e.identityHash();
            filter.add(hashes[i]);
            segmentFilter.add(hashes[i]);
            latest = Math.max(latest, e.rememberedAtMs());
        }
        List<KeyValue<String, byte[]>> records = new ArrayList<>(sorted.size() / BLOCK_EVENTS + 3);
        int blocks = 0;
        for (int from = 0; from < sorted.size(); from += BLOCK_EVENTS) {
            RememberedEvent first = sorted.get(from);
            records.add(KeyValue.pair(StateKeys.block(id, first.userHigh(), first.userLow(), first.identityHash(), blocks++),
                    StoreSerdes.writeChunk(sorted.subList(from, Math.min(sorted.size(), from + BLOCK_EVENTS)))));
        }
        int parts = 0;
        for (int from = 0; from < hashes.length; from += HASHES_PER_RECORD) {
            records.add(KeyValue.pair(StateKeys.hashes(id, parts++),
                    StoreSerdes.writeHashes(hashes, from, Math.min(hashes.length, from + HASHES_PER_RECORD))));
        }
        records.add(KeyValue.pair(StateKeys.run(id), StoreSerdes.writeRun(
                new StoreSerdes.RunRecord(segment, sorted.size(), latest, blocks, parts))));
        store.putAll(records);
        return new SortedRun(id, segment, sorted.size(), latest, filter);
    }

    /** The run {@code id} described by {@code record}, its filter rebuilt from its stored hashes, each also passed to {@code hashes}. */
    static SortedRun read(KeyValueStore<String, byte[]> store, long id, StoreSerdes.RunRecord record,
                          java.util.function.LongConsumer hashes) {
        EventFilter filter = new EventFilter(record.events(), FILTER_BITS);
        for (int part = 0; part < record.hashParts(); part++) {
            byte[] bytes = store.get(StateKeys.hashes(id, part));
            if (bytes == null) {
                throw new IllegalStateException("run " + id + " of the dedupe memory lacks its hashes part " + part);
            }
            for (long hash : StoreSerdes.readHashes(bytes)) {
                filter.add(hash);
                hashes.accept(hash);
            }
        }
        return new SortedRun(id, record.segment(), record.events(), record.latestRememberedAtMs(), filter);
    }

    /** Whether the run certainly does not hold the event of {@code identityHash}. */
    boolean certainlyLacks(long identityHash) {
        return !filter.mightContain(identityHash);
    }

    /** The run's event with the identity of {@code probe}, read from its block, or null. */
    RememberedEvent find(KeyValueStore<String, byte[]> store, RememberedEvent probe) {
        String target = StateKeys.blockStart(id, probe.userHigh(), probe.userLow(), probe.identityHash());
        // Blocks are named by their first event: the event can only be in the last block starting at or before
        // it, or in earlier ones when several start with the same user and hash (a 64-bit hash collision).
        try (KeyValueIterator<String, byte[]> blocks = store.reverseRange(StateKeys.blocksOf(id), StateKeys.after(target))) {
            while (blocks.hasNext()) {
                KeyValue<String, byte[]> block = blocks.next();
                RememberedEvent found = StoreSerdes.findInChunk(block.value, probe.userHigh(), probe.userLow(),
                        probe.eventIdBytes());
                if (found != null || block.key.compareTo(target) < 0) {
                    return found;
                }
            }
        }
        return null;
    }

    /** Every event of {@code user} in the run, read from the blocks that hold them. */
    List<RememberedEvent> eventsOf(KeyValueStore<String, byte[]> store, UUID user) {
        long high = user.getMostSignificantBits();
        long low = user.getLeastSignificantBits();
        String userStart = StateKeys.blockStartOfUser(id, high, low);
        List<byte[]> blocks = new ArrayList<>();
        // The block before the first one that starts with the user may end with the user's first events.
        try (KeyValueIterator<String, byte[]> before = store.reverseRange(StateKeys.blocksOf(id), userStart)) {
            if (before.hasNext()) {
                blocks.add(before.next().value);
            }
        }
        try (KeyValueIterator<String, byte[]> within = store.range(userStart, StateKeys.after(userStart))) {
            within.forEachRemaining(block -> blocks.add(block.value));
        }
        List<RememberedEvent> events = new ArrayList<>();
        for (byte[] block : blocks) {
            for (RememberedEvent e : StoreSerdes.readChunk(block)) {
                if (e.userHigh() == high && e.userLow() == low) {
                    events.add(e);
                }
            }
        }
        return events;
    }

    /**
     * Reads the run's events once, in order, hands those {@code keep} accepts to {@code kept} (decoding only those),
     * and removes the run from {@code store}.
     */
    void drain(KeyValueStore<String, byte[]> store, StoreSerdes.EntryFilter keep,
               java.util.function.Consumer<RememberedEvent> kept) {
        String prefix = StateKeys.blocksOf(id);
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, byte[]> blocks = store.range(prefix, StateKeys.after(prefix))) {
            while (blocks.hasNext()) {
                KeyValue<String, byte[]> block = blocks.next();
                keys.add(block.key);
                StoreSerdes.readChunkWhere(block.value, keep, kept);
            }
        }
        keys.forEach(store::delete);
        deleteRange(store, StateKeys.hashesOf(id));
        store.delete(StateKeys.run(id));
    }

    /** Removes the run from {@code store}. */
    void delete(KeyValueStore<String, byte[]> store) {
        deleteRange(store, StateKeys.blocksOf(id));
        deleteRange(store, StateKeys.hashesOf(id));
        store.delete(StateKeys.run(id));
    }

    private static void deleteRange(KeyValueStore<String, byte[]> store, String prefix) {
        List<String> keys = new ArrayList<>();
        try (KeyValueIterator<String, byte[]> range = store.range(prefix, StateKeys.after(prefix))) {
            range.forEachRemaining(kv -> keys.add(kv.key));
        }
        keys.forEach(store::delete);
    }

    long id() {
        return id;
    }

    long segment() {
        return segment;
    }

    int events() {
        return events;
    }

    long latestRememberedAtMs() {
        return latestRememberedAtMs;
    }

    long heapBytes() {
        return 48 + filter.bytes();
    }
}
