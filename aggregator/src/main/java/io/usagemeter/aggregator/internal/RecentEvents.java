package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
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
 * The dedupe memory of one stream task, and the task's event-time clock.
 *
 * <p>Every event that is not a duplicate is remembered, with its summary fields, at the task's
 * event-time high water once it is seen, and forgotten when the high water has moved a dedupe window
 * past that instant. Remembered events live in memory in segments of a quarter window, so forgetting
 * drops whole segments. At every commit ({@link #writeTo}) the events remembered since the last one are
 * appended to their segment in the store as one chunk, and the segments forgotten since are deleted:
 * a few store records per commit instead of one per event, and the memory is read back from them when
 * the task starts ({@link #load}).
 *
 * <p>An entry counts only while it is inside the window, whether or not its segment was dropped yet,
 * so when segments are dropped never changes a decision.
 *
 * <p>It also holds the months whose summary changed and is not yet published, persisted with the
 * rest, so that a commit between a change and its publication loses nothing. Every store record stays
 * well under Kafka's record size limit (chunks of at most a thousand events).
 */
public final class RecentEvents {

    private static final String HIGH_WATER = "m|high-water";
    private static final String UNPUBLISHED = "m|unpublished|";
    private static final long NONE = Long.MIN_VALUE;
    /** Store records stay far below Kafka's 1 MB record limit: an event takes at most ~500 bytes, a key ~50. */
    private static final int EVENTS_PER_CHUNK = 1_000;
    private static final int KEYS_PER_RECORD = 5_000;

    private final long windowMs;
    private final long segmentMs;
    private final Map<RememberedEvent, RememberedEvent> byIdentity = new HashMap<>();
    private final TreeMap<Long, Segment> segments = new TreeMap<>();
    /** Segments dropped from memory whose chunks are still in the store. */
    private final Map<Long, Integer> droppedChunks = new HashMap<>();
    /** Changed months to publish, with their summary (null when read back after a restart: in the store). */
    private final Map<String, MonthlySummary> unpublished = new LinkedHashMap<>();
    /** Keys of the months with a reset (a superset: purged months may linger), so most events skip the store. */
    private Set<String> resetMonths;
    private final boolean publishes;
    private int unpublishedRecords;
    private long highWater = NONE;
    /** The entry built to look {@code lastLookedUpEvent} up, reused when that event is remembered next. */
    private RememberedEvent lastLookedUp;
    private UsageEvent lastLookedUpEvent;
    /** The high water at which the oldest segment is forgotten (no segment: never). */
    private long nextDropAt = Long.MAX_VALUE;
    private boolean highWaterWritten = true;
    private boolean unpublishedWritten = true;

    private static final class Segment {
        final List<RememberedEvent> events = new ArrayList<>();
        int written;
        int chunks;
    }

    /** @param publishes whether changed summaries are published (a replay's rebuild publishes nothing) */
    RecentEvents(Duration window, boolean publishes) {
        this.windowMs = window.toMillis();
        this.segmentMs = Math.max(1, windowMs / 4);
        this.publishes = publishes;
    }

    /** The memory as the last commit left it in {@code store}. */
    static RecentEvents load(KeyValueStore<String, byte[]> store, Duration window, boolean publishes) {
        RecentEvents memory = new RecentEvents(window, publishes);
        try (KeyValueIterator<String, byte[]> chunks = store.range(StateKeys.chunksStart(), StateKeys.chunksEnd())) {
            while (chunks.hasNext()) {
                KeyValue<String, byte[]> chunk = chunks.next();
                Segment segment = memory.segments.computeIfAbsent(StateKeys.segmentOfChunk(chunk.key), s -> new Segment());
                for (RememberedEvent remembered : StoreSerdes.readChunk(chunk.value)) {
                    segment.events.add(remembered);
                    memory.byIdentity.put(remembered, remembered);
                }
                segment.written = segment.events.size();
                segment.chunks = Math.max(segment.chunks, StateKeys.sequenceOfChunk(chunk.key) + 1);
            }
        }
        byte[] highWater = store.get(HIGH_WATER);
        if (highWater != null) {
            memory.highWater = StoreSerdes.readLong(highWater);
        }
        try (KeyValueIterator<String, byte[]> unpublished = store.range(UNPUBLISHED, UNPUBLISHED + "~")) {
            while (unpublished.hasNext()) {
                StoreSerdes.readStrings(unpublished.next().value).forEach(key -> memory.unpublished.put(key, null));
                memory.unpublishedRecords++;
            }
        }
        memory.dropForgottenSegments();
        return memory;
    }

    /** The latest {@code occurred_at} the task has seen, null before its first event. */
    Instant highWater() {
        return highWater == NONE ? null : Instant.ofEpochMilli(highWater);
    }

    /** The high water once {@code occurredAt} is seen (nothing changes). */
    long highWaterWith(Instant occurredAt) {
        return Math.max(highWater, occurredAt.toEpochMilli());
    }

    /** Whether {@code event}'s user and id are remembered inside the window at high water {@code at}. */
    boolean remembers(UsageEvent event, long at) {
        lastLookedUp = RememberedEvent.of(event, at);
        lastLookedUpEvent = event;
        RememberedEvent remembered = byIdentity.get(lastLookedUp);
        return remembered != null && inWindow(remembered, at);
    }

    /** Advances the clock to {@code event}'s time, if later, and remembers the event there. */
    void remember(UsageEvent event) {
        long at = highWaterWith(event.occurredAt());
        if (at != highWater) {
            highWater = at;
            highWaterWritten = false;
            dropForgottenSegments();
        }
        RememberedEvent remembered = lastLookedUpEvent == event && lastLookedUp.rememberedAtMs() == at
                ? lastLookedUp : RememberedEvent.of(event, at);
        lastLookedUp = null;
        lastLookedUpEvent = null;
        byIdentity.put(remembered, remembered);
        long segment = Math.floorDiv(at, segmentMs);
        segments.computeIfAbsent(segment, s -> new Segment()).events.add(remembered);
        nextDropAt = Math.min(nextDropAt, (segments.firstKey() + 1) * segmentMs + windowMs);
    }

    /** Advances the clock to {@code occurredAt} if later, remembering nothing (a duplicate's time). */
    void advance(Instant occurredAt) {
        long at = highWaterWith(occurredAt);
        if (at != highWater) {
            highWater = at;
            highWaterWritten = false;
            dropForgottenSegments();
        }
    }

    /** The earliest instant whose events are all still remembered: the high water minus the window. */
    Instant rememberedFrom() {
        return highWater == NONE ? null : Instant.ofEpochMilli(highWater - windowMs);
    }

    /**
     * The summary of {@code user}'s {@code month} counting the remembered events that occurred after
     * {@code after}. Exact when {@code after} is at or after {@link #rememberedFrom()}: every event
     * counted since with a later time is remembered.
     */
    MonthlySummary summaryAfter(UUID user, YearMonth month, Instant after) {
        MonthlySummary summary = MonthlySummary.empty(new MonthlySummaryKey(user, month));
        long from = month.atDay(1).atStartOfDay().toEpochSecond(java.time.ZoneOffset.UTC);
        long until = month.plusMonths(1).atDay(1).atStartOfDay().toEpochSecond(java.time.ZoneOffset.UTC);
        for (Segment segment : segments.values()) {
            for (RememberedEvent remembered : segment.events) {
                if (remembered.isOf(user) && remembered.occurredWithin(from, until, after)
                        && inWindow(remembered, highWater)) {
                    summary = summary.plus(remembered.event());
                }
            }
        }
        return summary;
    }

    /** The keys of the months with a reset, read from {@code resets} on first use; shared by the task's processors. */
    Set<String> resetMonths(KeyValueStore<String, ?> resets) {
        if (resetMonths == null) {
            resetMonths = new java.util.HashSet<>();
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

    /** How many events are in memory (remembered, or forgotten in a segment not yet dropped). */
    public int size() {
        return segments.values().stream().mapToInt(s -> s.events.size()).sum();
    }

    /** Writes what changed since the last call: new events as one chunk per segment, dropped segments, the clock. */
    void writeTo(KeyValueStore<String, byte[]> store) {
        for (Map.Entry<Long, Integer> dropped : droppedChunks.entrySet()) {
            for (int chunk = 0; chunk < dropped.getValue(); chunk++) {
                store.delete(StateKeys.chunk(dropped.getKey(), chunk));
            }
        }
        droppedChunks.clear();
        for (Map.Entry<Long, Segment> entry : segments.entrySet()) {
            Segment segment = entry.getValue();
            while (segment.written < segment.events.size()) {
                int end = Math.min(segment.events.size(), segment.written + EVENTS_PER_CHUNK);
                store.put(StateKeys.chunk(entry.getKey(), segment.chunks),
                        StoreSerdes.writeChunk(segment.events.subList(segment.written, end)));
                segment.chunks++;
                segment.written = end;
            }
        }
        if (!highWaterWritten) {
            store.put(HIGH_WATER, StoreSerdes.writeLong(highWater));
            highWaterWritten = true;
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
    }

    private static String unpublishedRecord(int index) {
        return UNPUBLISHED + String.format(java.util.Locale.ROOT, "%06d", index);
    }

    private boolean inWindow(RememberedEvent remembered, long at) {
        return remembered.rememberedAtMs() >= at - windowMs;
    }

    /** Drops the segments whose every event is outside the window. */
    private void dropForgottenSegments() {
        if (highWater == NONE || highWater < nextDropAt) {
            return;
        }
        long cutoff = highWater - windowMs;
        Iterator<Map.Entry<Long, Segment>> oldest = segments.entrySet().iterator();
        nextDropAt = Long.MAX_VALUE;
        while (oldest.hasNext()) {
            Map.Entry<Long, Segment> entry = oldest.next();
            if ((entry.getKey() + 1) * segmentMs > cutoff) {
                nextDropAt = (entry.getKey() + 1) * segmentMs + windowMs;
                return;
            }
            Segment segment = entry.getValue();
            for (RememberedEvent remembered : segment.events) {
                // Equality is the identity: remove only this very entry, not a later one of the same event.
                if (byIdentity.get(remembered) == remembered) {
                    byIdentity.remove(remembered);
                }
            }
            if (segment.chunks > 0) {
                droppedChunks.put(entry.getKey(), segment.chunks);
            }
            oldest.remove();
        }
    }

}
