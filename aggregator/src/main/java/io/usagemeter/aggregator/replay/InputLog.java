package io.usagemeter.aggregator.replay;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The aggregator's input log ({@code meter.usage-events} and {@code meter.admin-commands}) as a rebuild reads it:
 * where a range starts in every partition, and whether retention still holds it. Shared by the replay
 * ({@link Replayer}) and the rewind of the live aggregator ({@link AggregatorRewind}), so both read from the same
 * point and refuse alike.
 */
final class InputLog {

    static final List<String> TOPICS = List.of(Topics.USAGE_EVENTS.name(), Topics.ADMIN_COMMANDS.name());
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);

    private final AggregatorConfig aggregator;

    InputLog(AggregatorConfig aggregator) {
        this.aggregator = aggregator;
    }

    /**
     * Per input partition, the first offset whose record time is at or after the range start minus the dedupe
     * window (the end offset when there is none), and the end offset; after checking that the topics still hold it.
     *
     * @param doing how the refusal names the operation ("replaying", "rewinding the aggregator to")
     * @throws ReplayRefusedException when retention removed records the range needs; the message names the
     *     earliest time still available
     */
    ReplayPlan plan(ReplayRange range, boolean dryRun, String doing) throws ReplayRefusedException {
        Instant needed = range.eventsNeededFrom(aggregator.dedupeWindow());
        try (Admin admin = admin()) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : TOPICS) {
                admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic).partitions()
                        .forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
            }
            Map<TopicPartition, ListOffsetsResultInfo> earliest = offsets(admin, partitions, OffsetSpec.earliest());
            Map<TopicPartition, ListOffsetsResultInfo> latest = offsets(admin, partitions, OffsetSpec.latest());
            Map<TopicPartition, ListOffsetsResultInfo> atStart =
                    offsets(admin, partitions, OffsetSpec.forTimestamp(needed.toEpochMilli()));
            requireRetained(range, needed, partitions, earliest, latest, doing);
            Map<TopicPartition, Long> starts = new HashMap<>();
            Map<TopicPartition, Long> ends = new HashMap<>();
            for (TopicPartition tp : partitions) {
                long end = latest.get(tp).offset();
                long start = atStart.get(tp).offset();
                starts.put(tp, start < 0 ? end : start);
                ends.put(tp, end);
            }
            String jobId = UUID.randomUUID().toString().substring(0, 8);
            return new ReplayPlan(jobId, range, dryRun, needed, starts, ends);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot read the input topics at " + aggregator.bootstrapServers() + ": "
                    + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka at " + aggregator.bootstrapServers() + " did not answer within 30 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the input topics", e);
        }
    }

    /**
     * A partition lost records to retention (its log start is past 0) and its first remaining record is
     * later than the range needs: the records between may have been in the range, so the rebuild could
     * not be exact.
     */
    private void requireRetained(ReplayRange range, Instant needed, List<TopicPartition> partitions,
                                 Map<TopicPartition, ListOffsetsResultInfo> earliest,
                                 Map<TopicPartition, ListOffsetsResultInfo> latest, String doing)
            throws ReplayRefusedException {
        Instant earliestAvailable = null;
        String topicMissingRange = null;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(readProperties(), new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            for (TopicPartition tp : partitions) {
                long logStart = earliest.get(tp).offset();
                if (logStart == 0 || logStart >= latest.get(tp).offset()) {
                    continue;
                }
                Instant first = firstRecordTime(consumer, tp, logStart);
                if (first.isAfter(needed)) {
                    topicMissingRange = tp.topic();
                    earliestAvailable = earliestAvailable == null || first.isAfter(earliestAvailable) ? first : earliestAvailable;
                }
            }
        }
        if (earliestAvailable != null) {
            throw new ReplayRefusedException(topicMissingRange + " no longer holds the start of the range: " + doing + " "
                    + range + " needs records from " + needed + " (" + range.start() + " minus the "
                    + aggregator.dedupeWindow().toHours() + " h dedupe window), but retention removed the older ones;"
                    + " the earliest available time is " + earliestAvailable
                    + ". Nothing was changed.");
        }
    }

    private static Instant firstRecordTime(KafkaConsumer<byte[], byte[]> consumer, TopicPartition tp, long offset) {
        consumer.assign(List.of(tp));
        consumer.seek(tp, offset);
        long deadline = System.nanoTime() + ADMIN_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                return Instant.ofEpochMilli(r.timestamp());
            }
        }
        throw new IllegalStateException("could not read the first record of " + tp + " within " + ADMIN_TIMEOUT);
    }

    private Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, aggregator.bootstrapServers()));
    }

    private Properties readProperties() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, aggregator.bootstrapServers());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        return p;
    }

    static Map<TopicPartition, ListOffsetsResultInfo> offsets(Admin admin, List<TopicPartition> partitions, OffsetSpec spec)
            throws InterruptedException, ExecutionException, TimeoutException {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions.forEach(tp -> request.put(tp, spec));
        return admin.listOffsets(request).all().get(30, TimeUnit.SECONDS);
    }
}
