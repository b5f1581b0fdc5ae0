package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The dedupe memory of one stream task, its users' event-time clocks and the task's own.
 *
 * <p>Every user has an event-time high water: the latest {@code occurred_at} of the user's own events seen
 * ({@link UserHighWaters}). Every event that is not a duplicate is remembered, with its summary fields, at its
 * user's high water once it is seen, and later copies are duplicates while that high water is at most a dedupe
 * window past that instant. So a decision depends on the user's own events only: not on other users, the partition
 * count or how users interleave in a partition.
 *
 * <p>Where the remembered events are, so that the heap per remembered event stays a few bytes at any rate:
 * <ul>
 *   <li>The latest ones (at most {@code heapEvents}, all of one segment) are <em>held</em> on the heap, found by
 *       a hash map; at every commit ({@link #writeTo}) those remembered since the last one are appended to the
 *       store as one chunk, so a restart reads them back.</li>
 *   <li>When the held events reach {@code heapEvents}, or the high water enters the next segment, they are
 *       <em>spilled</em>: written to the store as one {@link SortedRun} and dropped from the heap. What stays on
 *       the heap is a Bloom filter per run and one per segment (about 3.4 bytes per event). An event is looked
 *       for on disk only when both filters answer "perhaps": when it was remembered there (retries of older
 *       events) or, for about one event in a thousand per segment, by chance.</li>
 * </ul>
 * Segments are a quarter window of the task's high water (the latest event time of any user) at which events were
 * held; an event's remembered instant is at or before it. When the task's high water passes a segment's end by the
 * window, the segment's runs are read once, in order, and deleted: the events whose user's high water is still
 * inside their window (a user who sent nothing since) are <em>carried</em> to the held events with their remembered
 * instant unchanged, the others go. An entry counts only while it is inside its user's window, whether or not its
 * segment was dropped yet, so when segments are dropped never changes a decision; the memory holds each user's own
 * last window, however long ago that user was active.
 *
 * <p>It also holds the months whose summary changed and is not yet published, persisted with the rest, so that a
 * commit between a change and its publication loses nothing. Every store record stays well under Kafka's record
 * size limit (chunks of at most a thousand events, blocks of {@value SortedRun#BLOCK_EVENTS}).
 */
public final class RecentEvents {

    private static final String HIGH_WATER = "m|high-water";
    private static final String CARRIED = "m|carried";
    private static final String UNPUBLISHED = "m|unpublished|";
    private static final long NONE = Long.MIN_VALUE;
    /** Store records stay far below Kafka's 1 MB record limit: an event takes at most ~500 bytes, a key ~50. */
    private static final int EVENTS_PER_CHUNK = 1_000;
    private static final int KEYS_PER_RECORD = 5_000;
    /**
     * Heap of one held event besides its id's bytes: the flat object (112 bytes with compressed references), the
     * id array's header, its hash map node and table slot, and its list slot.
     */
    private static final int HELD_EVENT_BYTES = 112 + 16 + 32 + 8 + 6;

    private final KeyValueStore<String, byte[]> store;
    private final long windowMs;
    private final long segmentMs;
    private final int heapEvents;
    private final boolean publishes;
    private final DedupeMemoryMetrics.Task metrics;

    /** Each user's high water: the clock of the user's decisions. */
    private final UserHighWaters users;
    /** The held events by identity (the latest of each), and in the order they were remembered. */
    private final Map<RememberedEvent, RememberedEvent> held = new HashMap<>();
    private final List<RememberedEvent> heldInOrder = new ArrayList<>();
    private long heldIdBytes;
    /** The segment of every held event; {@code heldLegacy} when some came from chunks of the earliest layout. */
    private long heldSegment = NONE;
    private boolean heldLegacy;
    /** How many held events are in chunks already, and the keys of those chunks. */
    private int heldWritten;
    private final List<String> heldChunks = new ArrayList<>();
    private long nextChunk;

    /** The segments with spilled runs, oldest first. */
    private final List<Segment> segments = new ArrayList<>();
    private long nextRun;

    /** Changed months to publish, with their summary (null when read back after a restart: in the store). */
    private final Map<String, MonthlySummary> unpublished = new LinkedHashMap<>();
    /** Keys of the months with a reset (a superset: purged months may linger), so most events skip the store. */
    private Set<String> resetMonths;
    private int unpublishedRecords;
    /** The task's high water: the segments' clock, the retention's and the published summaries' {@code as_of}. */
    private long highWater = NONE;
    /** Events carried from dropped segments since the task's store began, written at each commit. */
    private long carried;
    private boolean carriedWritten = true;
    /** The entry built to look {@code lastLookedUpEvent} up, reused when that event is remembered next. */
    private RememberedEvent lastLookedUp;
    private UsageEvent lastLookedUpEvent;
    /** The high water at which the oldest segment (spilled or held) is forgotten (none: never). */
    private long nextDropAt = Long.MAX_VALUE;
    private boolean highWaterWritten = true;
    private boolean unpublishedWritten = true;

    private static final class Segment {
        final long number;
        final SegmentFilter filter;
        final List<SortedRun> runs = new ArrayList<>();
        long events;
        long latestRememberedAtMs = Long.MIN_VALUE;

        Segment(long number, long expectedEvents) {
            this.number = number;
            this.filter = new SegmentFilter(expectedEvents);
        }

        void add(SortedRun run) {
            runs.add(run);
            events += run.events();
            latestRememberedAtMs = Math.max(latestRememberedAtMs, run.latestRememberedAtMs());
        }
    }

    /**
     * @param heapEvents how many of the latest remembered events are held on the heap before they are spilled
     * @param publishes whether changed summaries are published (a replay's rebuild publishes nothing)
     */
    RecentEvents(KeyValueStore<String, byte[]> store, Duration window, int heapEvents, boolean publishes,
                 DedupeMemoryMetrics.Task metrics) {
        this(store, window, heapEvents, publishes, metrics, new UserHighWaters());
    }

    private RecentEvents(KeyValueStore<String, byte[]> store, Duration window, int heapEvents, boolean publishes,
                         DedupeMemoryMetrics.Task metrics, UserHighWaters users) {
        if (heapEvents < 1) {
            throw new IllegalArgumentException("at least one event must be held on the heap, was " + heapEvents);
        }
        this.store = store;
        this.windowMs = window.toMillis();
        this.segmentMs = Math.max(1, windowMs / 4);
        this.heapEvents = heapEvents;
        this.publishes = publishes;
        this.metrics = metrics;
        this.users = users;
    }

    /** The memory as the last commit left it in {@code store}: the runs' filters rebuilt, the held events read back. */
    static RecentEvents load(KeyValueStore<String, byte[]> store, Duration window, int heapEvents, boolean publishes,
                             DedupeMemoryMetrics.Task metrics) {
        RecentEvents memory = new RecentEvents(store, window, heapEvents, publishes, metrics, UserHighWaters.load(store));
        byte[] highWater = store.get(HIGH_WATER);
        if (highWater != null) {
            memory.highWater = StoreSerdes.readLong(highWater);
        }
        byte[] carried = store.get(CARRIED);
        if (carried != null) {
            memory.carried = StoreSerdes.readLong(carried);
        }
        memory.loadRuns();
        memory.loadHeld();
        if (memory.users.isEmpty() && memory.size() > 0) {
            memory.adoptLayoutWithoutUserHighWaters();
        }
        try (KeyValueIterator<String, byte[]> unpublished = store.range(UNPUBLISHED, UNPUBLISHED + "~")) {
            while (unpublished.hasNext()) {
                StoreSerdes.readStrings(unpublished.next().value).forEach(key -> memory.unpublished.put(key, null));
                memory.unpublishedRecords++;
            }
        }
        memory.nextDropAt = memory.nextDropAt();
        memory.report();
        return memory;
    }

    private void loadRuns() {
        TreeMap<Long, Map<Long, StoreSerdes.RunRecord>> bySegment = new TreeMap<>();
        try (KeyValueIterator<String, byte[]> runs = store.range(StateKeys.runsStart(), StateKeys.runsEnd())) {
            while (runs.hasNext()) {
                KeyValue<String, byte[]> run = runs.next();
                long id = StateKeys.runOf(run.key);
                StoreSerdes.RunRecord record = StoreSerdes.readRun(run.value);
                bySegment.computeIfAbsent(record.segment(), s -> new TreeMap<>()).put(id, record);
                nextRun = Math.max(nextRun, id + 1);
            }
        }
        long previousEvents = 0;
        for (Map.Entry<Long, Map<Long, StoreSerdes.RunRecord>> entry : bySegment.entrySet()) {
            long events = entry.getValue().values().stream().mapToLong(StoreSerdes.RunRecord::events).sum();
            // The high water's segment still takes events: room for the next spill, or as many as the previous
            // segment took; beyond that its filter grows.
            boolean current = highWater != NONE && entry.getKey() == Math.floorDiv(highWater, segmentMs);
            Segment segment = new Segment(entry.getKey(),
                    current ? Math.max(events + heapEvents, previousEvents) : events);
            entry.getValue().forEach((id, record) -> segment.add(SortedRun.read(store, id, record, segment.filter::add)));
            segments.add(segment);
            previousEvents = events;
        }
    }

    private void loadHeld() {
        try (KeyValueIterator<String, byte[]> chunks = store.range(StateKeys.activeChunksStart(), StateKeys.activeChunksEnd())) {
            while (chunks.hasNext()) {
                KeyValue<String, byte[]> chunk = chunks.next();
                StoreSerdes.readChunk(chunk.value).forEach(this::holdRead);
                heldChunks.add(chunk.key);
                nextChunk = Math.max(nextChunk, StateKeys.sequenceOfActiveChunk(chunk.key) + 1);
            }
        }
        // The layout before spilled runs kept every remembered event in chunks of this kind: held until spilled.
        try (KeyValueIterator<String, byte[]> chunks = store.range(StateKeys.chunksStart(), StateKeys.chunksEnd())) {
            while (chunks.hasNext()) {
                KeyValue<String, byte[]> chunk = chunks.next();
                StoreSerdes.readChunk(chunk.value).forEach(this::holdRead);
                heldChunks.add(chunk.key);
                heldLegacy = true;
            }
        }
        heldWritten = heldInOrder.size();
    }

    /**
     * Holds an event read back from a chunk: a commit spills held events of an earlier segment than the task's high
     * water, so they belong to its segment.
     */
    private void holdRead(RememberedEvent remembered) {
        hold(remembered, highWater == NONE ? Math.floorDiv(remembered.rememberedAtMs(), segmentMs)
                : Math.floorDiv(highWater, segmentMs));
    }

    private void hold(RememberedEvent remembered, long segment) {
        heldSegment = heldInOrder.isEmpty() ? segment : Math.max(heldSegment, segment);
        held.put(remembered, remembered);
        heldInOrder.add(remembered);
        heldIdBytes += remembered.eventIdBytes().length;
    }

    /**
     * A store of the layout before per-user high waters has remembered instants on the task's clock, and no user
     * clocks: each user with remembered events starts at the latest instant one of them was remembered at (at or
     * after the user's own latest event and at or before the task's high water, so an event the earlier layout still
     * remembered stays remembered, and none longer than a per-user clock from the start would keep it). Read once,
     * at the first start of this version; written at the next commit.
     */
    private void adoptLayoutWithoutUserHighWaters() {
        for (RememberedEvent remembered : heldInOrder) {
            users.raise(remembered.userHigh(), remembered.userLow(), remembered.rememberedAtMs());
        }
        try (KeyValueIterator<String, byte[]> blocks = store.range(StateKeys.allBlocksStart(), StateKeys.allBlocksEnd())) {
            while (blocks.hasNext()) {
                for (RememberedEvent remembered : StoreSerdes.readChunk(blocks.next().value)) {
                    users.raise(remembered.userHigh(), remembered.userLow(), remembered.rememberedAtMs());
                }
            }
        }
    }

    /** The latest {@code occurred_at} the task has seen (of any user), null before its first event. */
    Instant highWater() {
        return highWater == NONE ? null : Instant.ofEpochMilli(highWater);
    }

    /** The latest {@code occurred_at} of {@code user}'s events seen, null before the user's first event. */
    Instant highWaterOf(UUID user) {
        long at = users.of(user);
        return at == UserHighWaters.NONE ? null : Instant.ofEpochMilli(at);
    }

    /** The task's high water once {@code occurredAt} is seen (nothing changes). */
    long taskHighWaterWith(Instant occurredAt) {
        return Math.max(highWater, occurredAt.toEpochMilli());
    }

    /** The high water of {@code event}'s user once {@code event} is seen (nothing changes). */
    long highWaterWith(UsageEvent event) {
        UUID user = event.userId();
        return Math.max(users.of(user.getMostSignificantBits(), user.getLeastSignificantBits()),
                event.occurredAt().toEpochMilli());
    }

    /**
     * Whether {@code event}'s user and id are remembered inside the window when its user's high water is {@code at}.
     */
    boolean remembers(UsageEvent event, long at) {
        RememberedEvent probe = RememberedEvent.of(event, at);
        lastLookedUp = probe;
        lastLookedUpEvent = event;
        RememberedEvent hit = held.get(probe);
        if (hit != null) {
            // The held events are the latest: an earlier sighting on disk is further out of the window.
            return inWindow(hit, at);
        }
        long from = at - windowMs;
        long hash = probe.identityHash();
        // Newest segment first: an identity is remembered again only once its earlier entry is out of its window.
        for (int s = segments.size() - 1; s >= 0; s--) {
            Segment segment = segments.get(s);
            if (segment.latestRememberedAtMs < from || !segment.filter.mightContain(hash)) {
                continue;
            }
            for (int r = segment.runs.size() - 1; r >= 0; r--) {
                SortedRun run = segment.runs.get(r);
                if (run.latestRememberedAtMs() < from || run.certainlyLacks(hash)) {
                    continue;
                }
                RememberedEvent found = run.find(store, probe);
                metrics.diskRead(found != null);
                if (found != null) {
                    return inWindow(found, at);
                }
            }
        }
        return false;
    }

    /** Advances the clocks to {@code event}'s time, if later, and remembers the event at its user's high water. */
    void remember(UsageEvent event) {
        long at = advance(event);
        RememberedEvent remembered = lastLookedUpEvent == event && lastLookedUp.rememberedAtMs() == at
                ? lastLookedUp : RememberedEvent.of(event, at);
        lastLookedUp = null;
        lastLookedUpEvent = null;
        holdInCurrentSegment(remembered);
    }

    /** Holds {@code remembered} in the segment of the task's high water, spilling the held events first if older. */
    private void holdInCurrentSegment(RememberedEvent remembered) {
        long segment = Math.floorDiv(highWater, segmentMs);
        if (!heldInOrder.isEmpty() && (heldLegacy || segment != heldSegment)) {
            spill();
        }
        hold(remembered, segment);
        nextDropAt = Math.min(nextDropAt, (segment + 1) * segmentMs + windowMs);
        if (heldInOrder.size() >= heapEvents) {
            spill();
        }
    }

    /**
     * Advances {@code event}'s user's clock and the task's to its time if later, remembering nothing (a duplicate's
     * time); returns the user's high water after.
     */
    long advance(UsageEvent event) {
        UUID user = event.userId();
        long occurredAt = event.occurredAt().toEpochMilli();
        long userAt = users.raise(user.getMostSignificantBits(), user.getLeastSignificantBits(), occurredAt);
        if (occurredAt > highWater) {
            highWater = occurredAt;
            highWaterWritten = false;
            dropForgottenSegments();
        }
        return userAt;
    }

    /**
     * The earliest instant whose events of {@code user} are all still remembered: the user's high water minus the
     * window; null before the user's first event (nothing of the user to forget).
     */
    Instant rememberedFrom(UUID user) {
        long at = users.of(user);
        return at == UserHighWaters.NONE ? null : Instant.ofEpochMilli(at - windowMs);
    }

    /**
     * The summary of {@code user}'s {@code month} counting the remembered events that occurred after
     * {@code after}: the held ones, and the spilled ones read from the blocks of each run that hold the user.
     * Exact when {@code after} is at or after {@link #rememberedFrom(UUID)}: every event of the user counted since
     * with a later time is remembered.
     */
    MonthlySummary summaryAfter(UUID user, YearMonth month, Instant after) {
        MonthlySummary summary = MonthlySummary.empty(new MonthlySummaryKey(user, month));
        long userAt = users.of(user);
        if (userAt == UserHighWaters.NONE) {
            return summary;
        }
        long from = month.atDay(1).atStartOfDay().toEpochSecond(ZoneOffset.UTC);
        long until = month.plusMonths(1).atDay(1).atStartOfDay().toEpochSecond(ZoneOffset.UTC);
        long windowStart = userAt - windowMs;
        for (Segment segment : segments) {
            for (SortedRun run : segment.runs) {
                if (run.latestRememberedAtMs() < windowStart) {
                    continue;
                }
                for (RememberedEvent remembered : run.eventsOf(store, user)) {
                    if (remembered.occurredWithin(from, until, after) && inWindow(remembered, userAt)) {
                        summary = summary.plus(remembered.event());
                    }
                }
            }
        }
        for (RememberedEvent remembered : heldInOrder) {
            if (remembered.isOf(user) && remembered.occurredWithin(from, until, after) && inWindow(remembered, userAt)
                    && held.get(remembered) == remembered) {
                summary = summary.plus(remembered.event());
            }
        }
        return summary;
    }

    /** The keys of the months with a reset, read from {@code resets} on first use; shared by the task's processors. */
    Set<String> resetMonths(KeyValueStore<String, ?> resets) {
        if (resetMonths == null) {
            resetMonths = new HashSet<>();
            try (KeyValueIterator<String, ?> all = resets.all()) {
                while (all.hasNext()) {
                    resetMonths.add(all.next().key);
                }
            }
        }
        return resetMonths;
    }

    /** Notes that the summary of {@code userMonthKey} changed to {@code summary} since it was last published. */
    void changed(String userMonthKey, MonthlySummary summary) {
        if (publishes) {
            unpublished.put(userMonthKey, summary);
            unpublishedWritten = false;
        }
    }

    /**
     * The changed summaries by key, in the order they first changed (a null summary: read it from the
     * store); cleared once taken.
     */
    Map<String, MonthlySummary> takeUnpublished() {
        if (unpublished.isEmpty()) {
            return Map.of();
        }
        Map<String, MonthlySummary> taken = new LinkedHashMap<>(unpublished);
        unpublished.clear();
        unpublishedWritten = false;
        return taken;
    }

    /** How many events it holds: remembered, or forgotten in a segment not yet dropped; on the heap or spilled. */
    public long size() {
        return heldInOrder.size() + spilledEvents();
    }

    /** How many of them are held on the heap. */
    public int heldEvents() {
        return heldInOrder.size();
    }

    /** Heap taken by the held events, the filters of the spilled ones and the users' high waters. */
    public long heapBytes() {
        return (long) heldInOrder.size() * HELD_EVENT_BYTES + heldIdBytes + spilledHeapBytes() + users.heapBytes();
    }

    /** Heap taken by the users' high waters. */
    long usersHeapBytes() {
        return users.heapBytes();
    }

    /** How many users have a high water. */
    public int users() {
        return users.size();
    }

    /** Events carried from a dropped segment because their user's window still held them. */
    public long carriedEvents() {
        return carried;
    }

    /** Heap taken by what is kept of the spilled events: the filters of their runs and segments. */
    long spilledHeapBytes() {
        long bytes = 0;
        for (Segment segment : segments) {
            bytes += segment.filter.heapBytes();
            for (SortedRun run : segment.runs) {
                bytes += run.heapBytes();
            }
        }
        return bytes;
    }

    long spilledEvents() {
        long events = 0;
        for (Segment segment : segments) {
            events += segment.events;
        }
        return events;
    }

    /**
     * Writes what changed since the last call: the events remembered since as one chunk, the clock, the months
     * to publish. Called just before every commit.
     */
    void writeTo() {
        dropForgottenSegments();
        if (!heldInOrder.isEmpty() && (heldLegacy || heldInOrder.size() >= heapEvents
                || heldSegment != Math.floorDiv(highWater, segmentMs))) {
            spill();
        }
        while (heldWritten < heldInOrder.size()) {
            int end = Math.min(heldInOrder.size(), heldWritten + EVENTS_PER_CHUNK);
            String key = StateKeys.activeChunk(nextChunk++);
            store.put(key, StoreSerdes.writeChunk(heldInOrder.subList(heldWritten, end)));
            heldChunks.add(key);
            heldWritten = end;
        }
        if (!highWaterWritten) {
            store.put(HIGH_WATER, StoreSerdes.writeLong(highWater));
            highWaterWritten = true;
        }
        users.writeTo(store);
        if (!carriedWritten) {
            store.put(CARRIED, StoreSerdes.writeLong(carried));
            carriedWritten = true;
        }
        if (!unpublishedWritten) {
            List<String> keys = new ArrayList<>(unpublished.keySet());
            int records = 0;
            for (int from = 0; from < keys.size(); from += KEYS_PER_RECORD) {
                store.put(unpublishedRecord(records++),
                        StoreSerdes.writeStrings(keys.subList(from, Math.min(keys.size(), from + KEYS_PER_RECORD))));
            }
            for (int stale = records; stale < unpublishedRecords; stale++) {
                store.delete(unpublishedRecord(stale));
            }
            unpublishedRecords = records;
            unpublishedWritten = true;
        }
        report();
    }

    private void report() {
        metrics.update(size(), heldInOrder.size(), heapBytes(), users.size(), carried);
    }

    /**
     * Writes the held events to the store as one sorted run of their segment, leaving on the heap only their
     * filters. An earlier entry of an identity remembered again (out of its window) is left out.
     */
    private void spill() {
        List<RememberedEvent> latest = new ArrayList<>(held.size());
        for (RememberedEvent remembered : heldInOrder) {
            if (held.get(remembered) == remembered) {
                latest.add(remembered);
            }
        }
        Segment segment = segmentFor(heldSegment, latest.size());
        segment.add(SortedRun.write(store, nextRun++, heldSegment, latest, segment.filter));
        discardHeld();
        nextDropAt = nextDropAt();
    }

    /**
     * The segment {@code number}, added (in order) when new with a filter sized for the most of {@code spilling},
     * the held events, and the previous segment's events: the rate rarely changes much from one segment to the next.
     */
    private Segment segmentFor(long number, int spilling) {
        int at = segments.size();
        while (at > 0 && segments.get(at - 1).number > number) {
            at--;
        }
        if (at > 0 && segments.get(at - 1).number == number) {
            return segments.get(at - 1);
        }
        long expected = Math.max(heapEvents, spilling);
        if (at > 0) {
            expected = Math.max(expected, segments.get(at - 1).events);
        }
        Segment segment = new Segment(number, expected);
        segments.add(at, segment);
        return segment;
    }

    /** Forgets the held events, deleting their chunks. */
    private void discardHeld() {
        heldChunks.forEach(store::delete);
        heldChunks.clear();
        held.clear();
        heldInOrder.clear();
        heldIdBytes = 0;
        heldWritten = 0;
        heldLegacy = false;
        heldSegment = NONE;
    }

    private static String unpublishedRecord(int index) {
        return UNPUBLISHED + String.format(java.util.Locale.ROOT, "%06d", index);
    }

    private boolean inWindow(RememberedEvent remembered, long at) {
        return remembered.rememberedAtMs() >= at - windowMs;
    }

    /**
     * Drops the segments (spilled or held) that the task's high water passed by a window: each is read once and
     * deleted, and the events still inside their user's window are carried to the held events of the current
     * segment, with their remembered instant (so their window does not change).
     */
    private void dropForgottenSegments() {
        if (highWater == NONE || highWater < nextDropAt) {
            return;
        }
        long cutoff = highWater - windowMs;
        List<RememberedEvent> stillRemembered = new ArrayList<>();
        while (!segments.isEmpty() && (segments.get(0).number + 1) * segmentMs <= cutoff) {
            for (SortedRun run : segments.remove(0).runs) {
                run.drain(store, this::insideItsUsersWindow, stillRemembered::add);
            }
        }
        if (!heldInOrder.isEmpty() && (heldSegment + 1) * segmentMs <= cutoff) {
            for (RememberedEvent remembered : heldInOrder) {
                if (held.get(remembered) == remembered && insideItsUsersWindow(remembered.rememberedAtMs(),
                        remembered.userHigh(), remembered.userLow())) {
                    stillRemembered.add(remembered);
                }
            }
            discardHeld();
        }
        nextDropAt = nextDropAt();
        if (!stillRemembered.isEmpty()) {
            carried += stillRemembered.size();
            carriedWritten = false;
            stillRemembered.forEach(this::holdInCurrentSegment);
        }
    }

    /** Whether an event of the user remembered at {@code rememberedAtMs} is still inside that user's window. */
    private boolean insideItsUsersWindow(long rememberedAtMs, long userHigh, long userLow) {
        long userAt = users.of(userHigh, userLow);
        return userAt == UserHighWaters.NONE || rememberedAtMs >= userAt - windowMs;
    }

    private long nextDropAt() {
        long next = Long.MAX_VALUE;
        if (!segments.isEmpty()) {
            next = (segments.get(0).number + 1) * segmentMs + windowMs;
        }
        if (!heldInOrder.isEmpty()) {
            next = Math.min(next, (heldSegment + 1) * segmentMs + windowMs);
        }
        return next;
    }
}
