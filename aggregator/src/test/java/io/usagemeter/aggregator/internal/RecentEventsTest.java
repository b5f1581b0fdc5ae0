package io.usagemeter.aggregator.internal;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.Test;

/**
 * The dedupe memory's own store layout: what a commit writes is what a restart reads back, and the events spilled
 * to disk decide exactly as the same events held on the heap.
 */
class RecentEventsTest {

    private static final Duration WINDOW = Duration.ofHours(48);
    private static final UUID ALICE = UUID.fromString("6f1c0c5e-6a4e-4b8e-9a43-3f0d2a1c9b01");
    private static final Instant START = Instant.parse("2028-03-01T00:00:00Z");
    private static final YearMonth MARCH = YearMonth.of(2028, 3);
    private static final int ON_HEAP = 1_000_000;

    private final KeyValueStore<String, byte[]> store = store("recent");
    private final DedupeMemoryMetrics metrics = new DedupeMemoryMetrics();

    @Test
    void a_commit_writes_what_a_restart_reads_back_in_records_of_bounded_size() {
        RecentEvents memory = memory(store, ON_HEAP);
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 2_500; i++) {
            UsageEvent e = event("e-" + i, START.plusSeconds(i));
            events.add(e);
            memory.remember(e);
        }
        for (int i = 0; i < 12_000; i++) {
            UUID user = new UUID(0, i);
            memory.changed(StateKeys.userMonth(MARCH, user), MonthlySummary.empty(new MonthlySummaryKey(user, MARCH)));
        }
        memory.writeTo();

        assertThat(records(store, "a|")).as("2,500 events in chunks of at most 1,000").isEqualTo(3);
        assertThat(records(store, "m|unpublished|")).as("12,000 keys in records of at most 5,000").isEqualTo(3);
        RecentEvents restored = load(store, ON_HEAP);
        assertThat(restored.size()).isEqualTo(2_500);
        assertThat(restored.highWater()).isEqualTo(START.plusSeconds(2_499));
        assertThat(events).allMatch(e -> seen(restored, e));
        assertThat(seen(restored, event("other", START))).isFalse();
        assertThat(restored.takeUnpublished()).hasSize(12_000).as("the summaries are in their own store")
                .containsValue(null);

        restored.writeTo();
        assertThat(records(store, "m|unpublished|")).as("published: nothing left to publish after a restart").isZero();
        assertThat(load(store, ON_HEAP).takeUnpublished()).isEmpty();
    }

    @Test
    void forgotten_segments_leave_the_store_at_the_next_commit() {
        RecentEvents memory = memory(store, ON_HEAP);
        memory.remember(event("old", START));
        memory.writeTo();
        memory.remember(event("later", START.plus(Duration.ofHours(47))));
        memory.writeTo();
        assertThat(records(store, "r|")).as("'old' spilled when the clock entered the next segment").isEqualTo(1);
        assertThat(records(store, "a|")).as("'later' held").isEqualTo(1);

        memory.remember(event("much-later", START.plus(Duration.ofHours(61))));
        memory.writeTo();

        assertThat(records(store, "r|")).as("the segment of 'old' dropped, later's spilled").isEqualTo(1);
        assertThat(records(store, "b|")).isEqualTo(1);
        RecentEvents restored = load(store, ON_HEAP);
        assertThat(restored.size()).isEqualTo(2);
        assertThat(seen(restored, event("later", START))).isTrue();
        assertThat(seen(restored, event("old", START))).isFalse();
    }

    @Test
    void a_replays_rebuild_keeps_no_months_to_publish() {
        RecentEvents memory = new RecentEvents(store, WINDOW, ON_HEAP, false, metrics.open());
        memory.changed(StateKeys.userMonth(MARCH, ALICE), MonthlySummary.empty(new MonthlySummaryKey(ALICE, MARCH)));
        memory.writeTo();

        assertThat(memory.takeUnpublished()).isEmpty();
        assertThat(records(store, "m|unpublished|")).isZero();
    }

    @Test
    void events_beyond_the_heap_bound_are_spilled_to_sorted_runs_and_found_there() {
        RecentEvents memory = memory(store, 300);
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 3_050; i++) {
            // Ten users; one of them has a third of the events, spread over several blocks of every run.
            UUID user = i % 3 == 0 ? ALICE : new UUID(7, i % 10);
            UsageEvent e = event("e-" + i, user, START.plusSeconds(i));
            events.add(e);
            memory.remember(e);
        }
        memory.writeTo();

        assertThat(memory.heldEvents()).as("at most the bound on the heap").isEqualTo(50);
        assertThat(memory.size()).isEqualTo(3_050);
        assertThat(records(store, "r|")).as("ten runs of 300").isEqualTo(10);
        assertThat(records(store, "b|")).as("blocks of at most 128").isEqualTo(30);
        assertThat(records(store, "h|")).isEqualTo(10);
        assertThat(records(store, "a|")).as("spilled events leave their chunks").isEqualTo(1);
        assertThat(events).allMatch(e -> seen(memory, e));
        assertThat(metrics.diskHits()).as("every spilled event confirmed on disk").isEqualTo(3_000);
        long readsBefore = metrics.diskReads();
        int unseen = 0;
        for (int i = 0; i < 20_000; i++) {
            if (seen(memory, event("never-" + i, i % 2 == 0 ? ALICE : new UUID(7, i % 10), START))) {
                unseen++;
            }
        }
        assertThat(unseen).isZero();
        assertThat(metrics.diskReads() - readsBefore).as("events never seen: the filters send few to disk")
                .isLessThan(200);
        assertThat(metrics.diskHits()).isEqualTo(3_000);
    }

    @Test
    void a_restart_rebuilds_the_filters_from_the_runs_and_reads_the_held_events_back() {
        RecentEvents memory = memory(store, 64);
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            UsageEvent e = event("e-" + i, new UUID(3, i % 17), START.plusSeconds(i * 60L));
            events.add(e);
            memory.remember(e);
        }
        memory.writeTo();

        RecentEvents restored = load(store, 64);
        assertThat(restored.size()).isEqualTo(1_000);
        assertThat(restored.heldEvents()).isEqualTo(memory.heldEvents());
        for (UsageEvent e : events) {
            assertThat(seen(restored, e)).as(e.eventId()).isEqualTo(seen(memory, e));
        }
        assertThat(seen(restored, events.get(999))).isTrue();
        assertThat(seen(restored, event("e-0", new UUID(3, 1), START))).as("another user's id").isFalse();
    }

    @Test
    void the_users_month_is_recomputed_from_disk_as_the_contract_says() {
        RecentEvents spilling = memory(store, 7);
        Naive naive = new Naive();
        Random random = new Random(11);
        List<UUID> users = List.of(ALICE, new UUID(1, 1), new UUID(1, 2));
        for (int i = 0; i < 600; i++) {
            // Months cross at the end of March; some events late by up to a day.
            UsageEvent e = event("e-" + i, users.get(random.nextInt(3)),
                    Instant.parse("2028-03-30T00:00:00Z").plusSeconds(i * 600L - random.nextInt(86_400)));
            assertThat(seen(spilling, e)).isEqualTo(naive.remembers(e));
            naive.remember(e);
            spilling.remember(e);
        }
        assertThat(spilling.heldEvents()).isLessThan(7);
        for (UUID user : users) {
            for (YearMonth month : List.of(MARCH, MARCH.plusMonths(1))) {
                for (Instant after : List.of(Instant.parse("2028-04-01T05:00:00Z"), Instant.parse("2028-04-02T00:00:00Z"),
                        Instant.parse("2028-04-03T11:00:00Z"))) {
                    assertThat(spilling.summaryAfter(user, month, after)).as("%s %s after %s", user, month, after)
                            .isEqualTo(naive.summaryAfter(user, month, after));
                }
            }
        }
        assertThat(naive.summaryAfter(ALICE, MARCH.plusMonths(1), Instant.parse("2028-04-02T00:00:00Z")).calls())
                .as("the comparison compares something").isPositive();
    }

    @Test
    void when_spilled_segments_are_dropped_never_changes_a_decision() {
        RecentEvents spilling = memory(store, 5);
        Naive naive = new Naive();
        Random random = new Random(5);
        List<UsageEvent> sent = new ArrayList<>();
        Instant clock = START;
        int duplicates = 0;
        int retriesCountedAgain = 0;
        for (int i = 0; i < 3_000; i++) {
            UsageEvent e;
            boolean retry = !sent.isEmpty() && random.nextInt(4) == 0;
            if (retry) {
                e = sent.get(sent.size() - 1 - random.nextInt(Math.min(sent.size(), 400)));
            } else {
                clock = clock.plusSeconds(random.nextInt(1_800));
                e = event("e-" + i, new UUID(5, random.nextInt(4)), clock.minusSeconds(random.nextInt(3 * 86_400)));
            }
            sent.add(e);
            boolean expected = naive.remembers(e);
            assertThat(seen(spilling, e)).as("event %d", i)
                    .isEqualTo(expected);
            if (expected) {
                duplicates++;
                naive.advance(e);
                spilling.advance(e);
            } else {
                retriesCountedAgain += retry ? 1 : 0;
                naive.remember(e);
                spilling.remember(e);
            }
            if (i % 50 == 0) {
                spilling.writeTo();
            }
        }
        spilling.writeTo();
        assertThat(duplicates).as("duplicates were compared").isGreaterThan(100);
        assertThat(retriesCountedAgain).as("retries after the window were compared").isGreaterThan(50);
        assertThat(spilling.size()).as("segments were dropped").isLessThan(naive.remembered.size() / 4);
        assertThat(load(store, 5).size()).isEqualTo(spilling.size());
    }

    @Test
    void a_memory_read_back_from_a_copy_of_its_store_at_every_commit_decides_as_the_contract_says() {
        Naive naive = new Naive();
        Random random = new Random(23);
        List<UsageEvent> sent = new ArrayList<>();
        KeyValueStore<String, byte[]> current = store("copy-0");
        RecentEvents spilling = memory(current, 7);
        Instant clock = START;
        List<UUID> users = List.of(ALICE, new UUID(5, 1), new UUID(5, 2));
        for (int i = 0; i < 2_000; i++) {
            UsageEvent e;
            if (!sent.isEmpty() && random.nextInt(4) == 0) {
                e = sent.get(sent.size() - 1 - random.nextInt(Math.min(sent.size(), 600)));
            } else {
                clock = clock.plusSeconds(random.nextInt(600));
                e = event("e-" + i, users.get(random.nextInt(3)), clock.minusSeconds(random.nextInt(86_400)));
            }
            sent.add(e);
            boolean expected = naive.remembers(e);
            assertThat(seen(spilling, e)).as("event %d", i)
                    .isEqualTo(expected);
            if (expected) {
                naive.advance(e);
                spilling.advance(e);
            } else {
                naive.remember(e);
                spilling.remember(e);
            }
            if (i % 37 == 0) {
                // A commit, then a restart on a store restored elsewhere: a copy of every record.
                spilling.writeTo();
                KeyValueStore<String, byte[]> copy = store("copy-" + i);
                try (KeyValueIterator<String, byte[]> all = current.all()) {
                    all.forEachRemaining(kv -> copy.put(kv.key, kv.value));
                }
                current = copy;
                spilling = load(current, 7);
                for (UUID user : users) {
                    if (!naive.highWater.containsKey(user)) {
                        continue;
                    }
                    Instant after = Instant.ofEpochMilli(naive.highWater.get(user)).minus(Duration.ofHours(40));
                    YearMonth month = YearMonth.from(after.atOffset(java.time.ZoneOffset.UTC));
                    assertThat(spilling.summaryAfter(user, month, after)).as("event %d, %s", i, user)
                            .isEqualTo(naive.summaryAfter(user, month, after));
                }
            }
        }
        assertThat(spilling.size()).as("segments were dropped").isLessThan(naive.remembered.size());
    }

    @Test
    void the_heap_per_spilled_event_is_a_few_bytes() {
        RecentEvents memory = memory(store, 10_000);
        for (int i = 0; i < 200_000; i++) {
            memory.remember(event("evt-" + UUID.nameUUIDFromBytes(Integer.toString(i).getBytes()), new UUID(9, i % 1_000),
                    START.plusMillis(i * 100L)));
        }
        memory.writeTo();
        double perEvent = (double) memory.spilledHeapBytes() / memory.spilledEvents();
        // 16.9 + 10.5 bits planned per event; up to twice the segment's share while its filter grows.
        assertThat(perEvent).isBetween(3.4, 5.6);
        assertThat((double) memory.usersHeapBytes() / memory.users()).as("heap per user's high water").isLessThan(64);
        assertThat((double) memory.usersHeapBytes() / memory.size()).as("per event, 1,000 users").isLessThan(0.5);
        RecentEvents restored = load(store, 10_000);
        assertThat((double) restored.spilledHeapBytes() / restored.spilledEvents())
                .as("sized to the events (and the next spill) when read back").isBetween(3.4, 3.8);
    }

    @Test
    void the_chunks_of_the_layout_before_spilled_runs_are_read_and_spilled() {
        List<RememberedEvent> oldSegment = new ArrayList<>();
        List<RememberedEvent> newSegment = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            oldSegment.add(RememberedEvent.of(event("old-" + i, START.plusSeconds(i)), START.plusSeconds(i).toEpochMilli()));
            Instant later = START.plus(Duration.ofHours(13)).plusSeconds(i);
            newSegment.add(RememberedEvent.of(event("new-" + i, later), later.toEpochMilli()));
        }
        long segmentMs = WINDOW.toMillis() / 4;
        store.put(StateKeys.chunk(START.toEpochMilli() / segmentMs, 0), StoreSerdes.writeChunk(oldSegment));
        store.put(StateKeys.chunk(START.toEpochMilli() / segmentMs + 1, 0), StoreSerdes.writeChunk(newSegment));
        store.put("m|high-water", StoreSerdes.writeLong(START.plus(Duration.ofHours(13)).plusSeconds(29).toEpochMilli()));

        RecentEvents memory = load(store, ON_HEAP);
        assertThat(seen(memory, event("old-3", START))).isTrue();
        assertThat(seen(memory, event("new-29", START))).isTrue();
        memory.writeTo();

        assertThat(records(store, "c|")).as("the old chunks were replaced").isZero();
        assertThat(records(store, "r|")).as("spilled as one run of the current segment").isEqualTo(1);
        RecentEvents restored = load(store, ON_HEAP);
        assertThat(restored.size()).isEqualTo(60);
        assertThat(seen(restored, event("old-3", START))).isTrue();
        assertThat(seen(restored, event("new-29", START))).isTrue();
        assertThat(seen(restored, event("new-30", START))).isFalse();
    }

    @Test
    void a_quiet_users_events_are_carried_out_of_dropped_segments_until_that_users_own_clock_passes_them() {
        RecentEvents memory = memory(store, 3);
        UUID bob = new UUID(8, 1);
        List<UsageEvent> bobs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            bobs.add(event("bob-" + i, bob, START.plusSeconds(i)));
            memory.remember(bobs.get(i));
        }
        // Alice moves the task's clock ten days on, a commit every few hours: every segment Bob's events were
        // held or spilled in is dropped, several times over.
        for (int h = 1; h <= 240; h++) {
            memory.remember(event("alice-" + h, START.plus(Duration.ofHours(h))));
            if (h % 5 == 0) {
                memory.writeTo();
            }
        }
        memory.writeTo();
        assertThat(bobs).as("Bob's own clock has not moved").allMatch(e -> seen(memory, e));
        assertThat(memory.carriedEvents()).as("carried each time the segment holding them was dropped: 4 times")
                .isEqualTo(5 * 4);
        assertThat(memory.size()).as("Alice's events of the last 48 h, edges included, and Bob's five").isEqualTo(49 + 5);
        RecentEvents restored = load(store, 3);
        assertThat(bobs).as("after a restart").allMatch(e -> seen(restored, e));
        assertThat(restored.highWaterOf(bob)).isEqualTo(START.plusSeconds(4));
        assertThat(restored.summaryAfter(bob, MARCH, START).calls()).as("a reset recomputes from them").isEqualTo(4);

        restored.remember(event("bob-late", bob, START.plus(Duration.ofHours(48)).plusSeconds(2)));
        assertThat(seen(restored, bobs.get(1))).as("remembered at 00:00:01, his clock 48 h and 1 s later").isFalse();
        assertThat(seen(restored, bobs.get(3))).as("remembered at 00:00:03: 48 h and -1 s").isTrue();
        restored.remember(event("alice-far", START.plus(Duration.ofHours(300))));
        restored.writeTo();
        assertThat(restored.size()).as("the dropped segment kept Bob's events remembered at 2 s to 4 s and his late one,"
                + " and Alice's latest").isEqualTo(4 + 1);
    }

    @Test
    void the_users_high_waters_are_written_as_changes_per_commit_and_copied_whole_to_bound_the_records() {
        RecentEvents memory = memory(store, ON_HEAP);
        for (int commit = 0; commit < 500; commit++) {
            memory.remember(event("e-" + commit, new UUID(4, commit % 50), START.plusSeconds(commit)));
            memory.writeTo();
        }
        assertThat(records(store, "u|")).as("changes of 50 users: a full copy once 100 changes are written")
                .isLessThanOrEqualTo(101);
        RecentEvents restored = load(store, ON_HEAP);
        assertThat(restored.users()).isEqualTo(50);
        for (int user = 0; user < 50; user++) {
            assertThat(restored.highWaterOf(new UUID(4, user))).isEqualTo(START.plusSeconds(450 + user));
        }
        assertThat(restored.highWaterOf(new UUID(4, 50))).isNull();
    }

    @Test
    void a_store_without_user_high_waters_starts_each_user_at_the_latest_instant_one_of_its_events_was_remembered() {
        RecentEvents memory = memory(store, 4);
        UUID bob = new UUID(8, 2);
        for (int i = 0; i < 10; i++) {
            memory.remember(event("e-" + i, i % 2 == 0 ? ALICE : bob, START.plus(Duration.ofHours(i))));
        }
        memory.writeTo();
        List<String> userRecords = new ArrayList<>();
        try (KeyValueIterator<String, byte[]> all = store.range("u|", "u|~")) {
            all.forEachRemaining(kv -> userRecords.add(kv.key));
        }
        userRecords.forEach(store::delete);

        RecentEvents adopted = load(store, 4);
        assertThat(adopted.highWaterOf(ALICE)).isEqualTo(START.plus(Duration.ofHours(8)));
        assertThat(adopted.highWaterOf(bob)).isEqualTo(START.plus(Duration.ofHours(9)));
        assertThat(seen(adopted, event("e-0", START))).isTrue();
        adopted.writeTo();
        assertThat(records(store, "u|")).as("written at the first commit").isEqualTo(1);
    }

    /**
     * The contract, naively: every event remembered with its user's high water when it was seen (the latest event
     * time of that user's own events), nothing ever dropped.
     */
    private static final class Naive {
        final List<RememberedEvent> remembered = new ArrayList<>();
        final java.util.Map<RememberedEvent, RememberedEvent> latest = new java.util.HashMap<>();
        final java.util.Map<UUID, Long> highWater = new java.util.HashMap<>();

        boolean remembers(UsageEvent e) {
            long at = Math.max(highWater.getOrDefault(e.userId(), Long.MIN_VALUE), e.occurredAt().toEpochMilli());
            RememberedEvent r = latest.get(RememberedEvent.of(e, at));
            return r != null && r.rememberedAtMs() >= at - WINDOW.toMillis();
        }

        void advance(UsageEvent e) {
            highWater.merge(e.userId(), e.occurredAt().toEpochMilli(), Math::max);
        }

        void remember(UsageEvent e) {
            advance(e);
            RememberedEvent r = RememberedEvent.of(e, highWater.get(e.userId()));
            remembered.add(r);
            latest.put(r, r);
        }

        MonthlySummary summaryAfter(UUID user, YearMonth month, Instant after) {
            MonthlySummary summary = MonthlySummary.empty(new MonthlySummaryKey(user, month));
            Long userAt = highWater.get(user);
            for (RememberedEvent r : remembered) {
                UsageEvent e = r.event();
                if (e.userId().equals(user) && e.month().equals(month) && e.occurredAt().isAfter(after)
                        && r.rememberedAtMs() >= userAt - WINDOW.toMillis()) {
                    summary = summary.plus(e);
                }
            }
            return summary;
        }
    }

    /** Whether {@code memory} takes {@code e} for a duplicate, at its user's high water once {@code e} is seen. */
    private static boolean seen(RecentEvents memory, UsageEvent e) {
        return memory.remembers(e, memory.highWaterWith(e));
    }

    private RecentEvents memory(KeyValueStore<String, byte[]> store, int heapEvents) {
        return new RecentEvents(store, WINDOW, heapEvents, true, metrics.open());
    }

    private RecentEvents load(KeyValueStore<String, byte[]> store, int heapEvents) {
        return RecentEvents.load(store, WINDOW, heapEvents, true, metrics.open());
    }

    private static KeyValueStore<String, byte[]> store(String name) {
        KeyValueStore<String, byte[]> store = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name),
                Serdes.String(), Serdes.ByteArray()).withLoggingDisabled().build();
        store.init(new MockProcessorContext<>().getStateStoreContext(), store);
        return store;
    }

    private static int records(KeyValueStore<String, byte[]> store, String prefix) {
        int n = 0;
        try (KeyValueIterator<String, byte[]> all = store.range(prefix, prefix + "~")) {
            while (all.hasNext()) {
                all.next();
                n++;
            }
        }
        return n;
    }

    private static UsageEvent event(String id, Instant at) {
        return event(id, ALICE, at);
    }

    private static UsageEvent event(String id, UUID user, Instant at) {
        return new UsageEvent(id, user, at, Provider.OPENAI, "/v1/chat", "POST", 200, 120, 300, 2_000, 50, 1);
    }
}
