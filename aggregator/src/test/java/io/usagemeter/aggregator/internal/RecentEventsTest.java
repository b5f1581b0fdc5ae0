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
import java.util.UUID;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The dedupe memory's own store layout: what a commit writes is what a restart reads back. */
class RecentEventsTest {

    private static final Duration WINDOW = Duration.ofHours(48);
    private static final UUID ALICE = UUID.fromString("6f1c0c5e-6a4e-4b8e-9a43-3f0d2a1c9b01");
    private static final Instant START = Instant.parse("2028-03-01T00:00:00Z");

    private KeyValueStore<String, byte[]> store;

    @BeforeEach
    void store() {
        store = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("recent"), Serdes.String(), Serdes.ByteArray())
                .withLoggingDisabled().build();
        store.init(new MockProcessorContext<>().getStateStoreContext(), store);
    }

    @Test
    void a_commit_writes_what_a_restart_reads_back_in_records_of_bounded_size() {
        RecentEvents memory = new RecentEvents(WINDOW, true);
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 2_500; i++) {
            UsageEvent e = event("e-" + i, START.plusSeconds(i));
            events.add(e);
            memory.remember(e);
        }
        for (int i = 0; i < 12_000; i++) {
            UUID user = new UUID(0, i);
            memory.changed(StateKeys.userMonth(YearMonth.of(2028, 3), user),
                    MonthlySummary.empty(new MonthlySummaryKey(user, YearMonth.of(2028, 3))));
        }
        memory.writeTo(store);

        assertThat(records("c|")).as("2,500 events in chunks of at most 1,000").isEqualTo(3);
        assertThat(records("m|unpublished|")).as("12,000 keys in records of at most 5,000").isEqualTo(3);
        RecentEvents restored = RecentEvents.load(store, WINDOW, true);
        assertThat(restored.size()).isEqualTo(2_500);
        assertThat(restored.highWater()).isEqualTo(START.plusSeconds(2_499));
        long at = restored.highWaterWith(START);
        assertThat(events).allMatch(e -> restored.remembers(e, at));
        assertThat(restored.remembers(event("other", START), at)).isFalse();
        assertThat(restored.takeUnpublished()).hasSize(12_000).as("the summaries are in their own store")
                .containsValue(null);

        restored.writeTo(store);
        assertThat(records("m|unpublished|")).as("published: nothing left to publish after a restart").isZero();
        assertThat(RecentEvents.load(store, WINDOW, true).takeUnpublished()).isEmpty();
    }

    @Test
    void forgotten_segments_leave_the_store_at_the_next_commit() {
        RecentEvents memory = new RecentEvents(WINDOW, true);
        memory.remember(event("old", START));
        memory.writeTo(store);
        memory.remember(event("later", START.plus(Duration.ofHours(47))));
        memory.writeTo(store);
        assertThat(records("c|")).isEqualTo(2);

        memory.remember(event("much-later", START.plus(Duration.ofHours(61))));
        memory.writeTo(store);

        assertThat(records("c|")).as("the segment of 'old' dropped, later's and much-later's kept").isEqualTo(2);
        RecentEvents restored = RecentEvents.load(store, WINDOW, true);
        assertThat(restored.size()).isEqualTo(2);
        long at = restored.highWaterWith(START);
        assertThat(restored.remembers(event("later", START), at)).isTrue();
        assertThat(restored.remembers(event("old", START), at)).isFalse();
    }

    @Test
    void a_replays_rebuild_keeps_no_months_to_publish() {
        RecentEvents memory = new RecentEvents(WINDOW, false);
        memory.changed(StateKeys.userMonth(YearMonth.of(2028, 3), ALICE),
                MonthlySummary.empty(new MonthlySummaryKey(ALICE, YearMonth.of(2028, 3))));
        memory.writeTo(store);

        assertThat(memory.takeUnpublished()).isEmpty();
        assertThat(records("m|unpublished|")).isZero();
    }

    private int records(String prefix) {
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
        return new UsageEvent(id, ALICE, at, Provider.OPENAI, "/v1/chat", "POST", 200, 120, 300, 2_000, 50, 1);
    }
}
