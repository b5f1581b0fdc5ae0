package io.usagemeter.aggregator.sink;

import static io.usagemeter.aggregator.sink.SinkFixtures.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** How one poll becomes one batch: the highest offset per summary key wins, offsets advance past everything. */
class SinkBatchTest {

    private static final SinkTopics TOPICS = new SinkTopics("s", "e", "d");
    private static final Instant NOW = Instant.parse("2026-02-01T00:00:00Z");
    private static final UUID USER = UUID.fromString("7c9e6679-7425-40de-944b-e07fc1f90ae7");

    @Test
    void keepsTheSummaryOfTheHighestOffsetPerKeyWhateverTheOrderReceived() {
        MonthlySummary one = summaryWith(1);
        MonthlySummary three = summaryWith(3);
        MonthlySummary two = summaryWith(2);
        MonthlySummary otherMonth = MonthlySummary.empty(new MonthlySummaryKey(USER, YearMonth.of(2026, 2)))
                .plus(event(USER, "feb", Instant.parse("2026-02-01T00:00:00Z"), Provider.GITHUB, 200, 1));

        SinkBatch batch = SinkBatch.of(List.of(
                summaryRecord(0, 4, one), summaryRecord(0, 9, three), summaryRecord(0, 7, two),
                summaryRecord(0, 5, otherMonth)), TOPICS, NOW);

        assertThat(batch.summaries()).extracting(SinkBatch.SummaryWrite::summary).containsExactly(three, otherMonth);
        assertThat(batch.summaries().get(0).offset()).isEqualTo(9);
        assertThat(batch.nextOffsets()).containsExactly(Map.entry(new TopicPartition("s", 0), 10L));
        assertThat(batch.records()).isEqualTo(4);
    }

    @Test
    void aTombstoneAfterASummaryWinsAndASummaryAfterATombstoneWins() {
        MonthlySummary one = summaryWith(1);
        byte[] key = Topics.USAGE_SUMMARIES.keySerde().serializer().serialize("s", one.key());

        SinkBatch deleted = SinkBatch.of(List.of(summaryRecord(1, 1, one),
                new ConsumerRecord<>("s", 1, 2, key, null)), TOPICS, NOW);
        SinkBatch revived = SinkBatch.of(List.of(new ConsumerRecord<>("s", 1, 2, key, null),
                summaryRecord(1, 3, one)), TOPICS, NOW);

        assertThat(deleted.summaries()).singleElement().satisfies(s -> assertThat(s.summary()).isNull());
        assertThat(revived.summaries()).singleElement().satisfies(s -> assertThat(s.summary()).isEqualTo(one));
    }

    @Test
    void unreadableAndInvalidRecordsBecomeDeadLettersAndTheOffsetMovesPastThem() {
        UsageEvent valid = event(USER, "ok", Instant.parse("2026-01-03T00:00:00Z"), Provider.OPENAI, 200, 1);
        UsageEvent badStatus = new UsageEvent("bad", USER, valid.occurredAt(), Provider.OPENAI, "/x", "GET", 99,
                1, 1, 1, 0, 1);

        SinkBatch batch = SinkBatch.of(List.of(
                eventRecord(2, 10, valid),
                eventRecord(2, 11, badStatus),
                new ConsumerRecord<>("e", 2, 12, "k".getBytes(StandardCharsets.UTF_8),
                        "[]".getBytes(StandardCharsets.UTF_8))), TOPICS, NOW);

        assertThat(batch.events()).containsExactly(valid);
        assertThat(batch.deadLetters()).hasSize(2);
        assertThat(batch.deadLetters().get(0).offset()).isEqualTo(11);
        assertThat(batch.deadLetters().get(0).reason()).startsWith("invalid usage event").contains("status_code");
        assertThat(batch.deadLetters().get(1).offset()).isEqualTo(12);
        assertThat(batch.deadLetters().get(1).reason()).startsWith("unreadable record");
        assertThat(batch.nextOffsets()).containsExactly(Map.entry(new TopicPartition("e", 2), 13L));
    }

    private static MonthlySummary summaryWith(int calls) {
        MonthlySummary s = MonthlySummary.empty(new MonthlySummaryKey(USER, YearMonth.of(2026, 1)));
        for (int i = 0; i < calls; i++) {
            s = s.plus(event(USER, "e" + i, Instant.parse("2026-01-02T00:00:00Z").plusSeconds(i), Provider.OPENAI, 200, 1));
        }
        return s;
    }

    private static ConsumerRecord<byte[], byte[]> summaryRecord(int partition, long offset, MonthlySummary s) {
        return new ConsumerRecord<>("s", partition, offset,
                Topics.USAGE_SUMMARIES.keySerde().serializer().serialize("s", s.key()),
                Topics.USAGE_SUMMARIES.valueSerde().serializer().serialize("s", s));
    }

    private static ConsumerRecord<byte[], byte[]> eventRecord(int partition, long offset, UsageEvent e) {
        return new ConsumerRecord<>("e", partition, offset, e.userId().toString().getBytes(StandardCharsets.UTF_8),
                Topics.USAGE_EVENTS.valueSerde().serializer().serialize("e", e));
    }
}
