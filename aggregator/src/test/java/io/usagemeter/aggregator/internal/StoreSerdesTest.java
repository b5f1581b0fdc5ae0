package io.usagemeter.aggregator.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serde;
import org.junit.jupiter.api.Test;

class StoreSerdesTest {

    private static final UUID ALICE = UUID.fromString("6f1c0c5e-6a4e-4b8e-9a43-3f0d2a1c9b01");
    private static final Serde<MonthlySummary> SUMMARIES = StoreSerdes.summaries();

    @Test
    void a_chunk_of_remembered_events_round_trips_with_every_field() {
        Random random = new Random(7);
        List<RememberedEvent> chunk = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            UsageEvent e = new UsageEvent("évt-" + random.nextLong(), new UUID(random.nextLong(), random.nextLong()),
                    Instant.ofEpochSecond(random.nextInt(2_000_000_000), random.nextInt(1_000_000_000)),
                    Provider.values()[random.nextInt(Provider.values().length)], "/v1/ü/" + i, i % 2 == 0 ? "GET" : "POST",
                    100 + random.nextInt(500), random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(),
                    random.nextLong());

            chunk.add(RememberedEvent.of(e, random.nextLong()));
        }
        List<RememberedEvent> read = StoreSerdes.readChunk(StoreSerdes.writeChunk(chunk));
        assertThat(read).extracting(RememberedEvent::event).containsExactlyElementsOf(
                chunk.stream().map(r -> withoutEndpointAndMethod(r.event())).toList());
        assertThat(read).extracting(RememberedEvent::rememberedAtMs)
                .containsExactlyElementsOf(chunk.stream().map(RememberedEvent::rememberedAtMs).toList());
        assertThat(StoreSerdes.readChunk(StoreSerdes.writeChunk(List.of()))).isEmpty();
    }

    private static UsageEvent withoutEndpointAndMethod(UsageEvent e) {
        return new UsageEvent(e.eventId(), e.userId(), e.occurredAt(), e.provider(), "", "", e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }

    @Test
    void a_corrupt_chunk_is_a_serialization_error() {
        byte[] chunk = StoreSerdes.writeChunk(List.of(RememberedEvent.of(new UsageEvent("evt-1", ALICE,
                Instant.parse("2028-03-02T08:00:00Z"), Provider.GEMINI, "", "", 200, 1, 2, 3, 4, 5), 7L)));

        assertThatThrownBy(() -> StoreSerdes.readChunk(Arrays.copyOf(chunk, chunk.length - 3)))
                .isInstanceOf(SerializationException.class);
    }

    @Test
    void a_summary_round_trips_with_every_field() {
        MonthlySummary empty = MonthlySummary.empty(new MonthlySummaryKey(ALICE, YearMonth.of(2028, 2)));
        MonthlySummary full = new MonthlySummary(ALICE, YearMonth.of(1999, 12), 4, 7, 2, 2, 1_057, 660, 2_530, 1_140,
                900, Instant.parse("2028-03-01T07:00:00.000000001Z"), Instant.parse("2028-03-03T09:30:00Z"),
                Map.of(Provider.OPENAI, 2L, Provider.GITHUB, 1L, Provider.OTHER, Long.MAX_VALUE));

        for (MonthlySummary s : new MonthlySummary[] {empty, full}) {
            assertThat(SUMMARIES.deserializer().deserialize("s", SUMMARIES.serializer().serialize("s", s))).isEqualTo(s);
        }
    }

    @Test
    void values_written_as_json_by_earlier_versions_are_still_read() {
        UsageEvent e = new UsageEvent("evt-1", ALICE, Instant.parse("2028-03-02T08:00:00Z"), Provider.GEMINI, "/v1",
                "POST", 200, 120, 300, 2_000, 50, 2);
        MonthlySummary s = MonthlySummary.empty(new MonthlySummaryKey(ALICE, YearMonth.of(2028, 3))).plus(e);

        byte[] summaryJson = Topics.USAGE_SUMMARIES.valueSerde().serializer().serialize("t", s);

        assertThat(SUMMARIES.deserializer().deserialize("s", summaryJson)).isEqualTo(s);
    }

    @Test
    void an_unknown_format_is_refused() {
        assertThatThrownBy(() -> SUMMARIES.deserializer().deserialize("s", new byte[] {9, 1, 2}))
                .isInstanceOf(SerializationException.class);
        assertThatThrownBy(() -> SUMMARIES.deserializer().deserialize("s", new byte[] {1, 1, 2}))
                .isInstanceOf(SerializationException.class);
    }

    @Test
    void providers_keep_their_order_because_stores_hold_their_ordinals() {
        assertThat(Provider.values()).as("append new providers at the end; never reorder")
                .containsExactly(Provider.GITHUB, Provider.OPENAI, Provider.ANTHROPIC, Provider.GEMINI, Provider.OTHER);
    }
}
