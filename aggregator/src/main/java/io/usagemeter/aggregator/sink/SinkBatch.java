package io.usagemeter.aggregator.sink;

import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.serde.EventSerdes;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * What one poll turns into, ready for one database transaction: the raw events, the latest summary
 * per key (the summary of the highest offset wins; a {@code null} summary is a tombstone), the
 * records no writer can take, and the next offset of every partition seen.
 *
 * <p>Summaries and users are sorted, so two sinks overlapping during a rebalance lock rows in the
 * same order and cannot deadlock.
 */
record SinkBatch(
        List<UsageEvent> events,
        List<SummaryWrite> summaries,
        List<DeadLetter> deadLetters,
        Map<TopicPartition, Long> nextOffsets,
        int records) {

    static final String STAGE = "aggregator.sink";

    /** A summary (or a tombstone, {@code summary == null}) and where it sits in the summaries topic. */
    record SummaryWrite(MonthlySummaryKey key, MonthlySummary summary, int partition, long offset) {
    }

    private static final Comparator<MonthlySummaryKey> KEY_ORDER =
            Comparator.comparing(MonthlySummaryKey::userId).thenComparing(MonthlySummaryKey::month);

    static SinkBatch of(Iterable<ConsumerRecord<byte[], byte[]>> records, SinkTopics topics, Instant now) {
        List<UsageEvent> events = new ArrayList<>();
        Map<MonthlySummaryKey, SummaryWrite> latest = new HashMap<>();
        List<DeadLetter> deadLetters = new ArrayList<>();
        Map<TopicPartition, Long> nextOffsets = new LinkedHashMap<>();
        int count = 0;
        for (ConsumerRecord<byte[], byte[]> record : records) {
            count++;
            nextOffsets.merge(new TopicPartition(record.topic(), record.partition()), record.offset() + 1, Math::max);
            try {
                if (record.topic().equals(topics.usageEvents())) {
                    StorableEvent read = StorableEvent.decode(record.topic(), record.headers(), record.value());
                    if (read.storable()) {
                        events.add(read.event());
                    } else {
                        deadLetters.add(deadLetter(record, read.rejection(), read.failure(), now));
                    }
                } else if (record.topic().equals(topics.usageSummaries())) {
                    MonthlySummaryKey key = EventSerdes.monthlySummaryKey().deserializer()
                            .deserialize(record.topic(), record.key());
                    if (key == null) {
                        deadLetters.add(deadLetter(record, "usage summary without a key", null, now));
                        continue;
                    }
                    MonthlySummary summary = EventSerdes.monthlySummary().deserializer()
                            .deserialize(record.topic(), record.value());
                    if (summary != null && !summary.key().equals(key)) {
                        deadLetters.add(deadLetter(record, "summary of " + summary.key() + " under key " + key, null, now));
                        continue;
                    }
                    SummaryWrite write = new SummaryWrite(key, summary, record.partition(), record.offset());
                    latest.merge(key, write, SinkBatch::later);
                } else {
                    throw new IllegalArgumentException("record of unexpected topic " + record.topic());
                }
            } catch (RuntimeException e) {
                deadLetters.add(deadLetter(record, "unreadable record: " + e.getMessage(), e, now));
            }
        }
        List<SummaryWrite> summaries = latest.values().stream()
                .sorted(Comparator.comparing(SummaryWrite::key, KEY_ORDER))
                .toList();
        return new SinkBatch(List.copyOf(events), summaries, List.copyOf(deadLetters), Map.copyOf(nextOffsets), count);
    }

    /** Within a partition the higher offset is newer; across partitions (after repartitioning) the later record. */
    private static SummaryWrite later(SummaryWrite seen, SummaryWrite next) {
        return seen.partition() == next.partition() && seen.offset() > next.offset() ? seen : next;
    }

    /** Every user named by an event or a summary, sorted. */
    Set<UUID> userIds() {
        Set<UUID> users = new TreeSet<>();
        events.forEach(e -> users.add(e.userId()));
        summaries.forEach(s -> users.add(s.key().userId()));
        return users;
    }

    /** The months of api_usage partitions the events go to. */
    Set<YearMonth> eventMonths() {
        Set<YearMonth> months = new TreeSet<>();
        events.forEach(e -> months.add(e.month()));
        return months;
    }

    boolean isEmpty() {
        return records == 0;
    }

    private static DeadLetter deadLetter(ConsumerRecord<byte[], byte[]> record, String reason, Throwable failure,
                                         Instant now) {
        return DeadLetter.of(STAGE, record.topic(), record.partition(), record.offset(), record.key(), record.value(),
                reason, failure, now);
    }
}
