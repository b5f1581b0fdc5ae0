package io.usagemeter.aggregator.replay;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;

/** The latest committed summary of every (user, month) of a range on the summaries topic, with where it is. */
record LiveSummaries(Map<MonthlySummaryKey, Position> summaries) {

    record Position(MonthlySummary summary, int partition, long offset) {
    }

    static LiveSummaries read(String bootstrapServers, ReplayRange range) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase(Locale.ROOT));
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
        Map<MonthlySummaryKey, Position> latest = new HashMap<>();
        try (KafkaConsumer<MonthlySummaryKey, MonthlySummary> consumer = new KafkaConsumer<>(p,
                Topics.USAGE_SUMMARIES.keySerde().deserializer(), Topics.USAGE_SUMMARIES.valueSerde().deserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.USAGE_SUMMARIES.name()).stream()
                    .map(info -> new TopicPartition(info.topic(), info.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp))) {
                for (ConsumerRecord<MonthlySummaryKey, MonthlySummary> r : consumer.poll(Duration.ofMillis(200))) {
                    if (r.key() == null || !range.contains(r.key().month())) {
                        continue;
                    }
                    if (r.value() == null) {
                        latest.remove(r.key());
                    } else {
                        latest.put(r.key(), new Position(r.value(), r.partition(), r.offset()));
                    }
                }
            }
        }
        return new LiveSummaries(latest);
    }
}
