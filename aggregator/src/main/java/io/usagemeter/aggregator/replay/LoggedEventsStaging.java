package io.usagemeter.aggregator.replay;

import io.usagemeter.aggregator.sink.StorableEvent;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads {@code meter.usage-events} between the plan's offsets ({@code read_committed}, as the sink does),
 * decodes each record by the sink's own rule ({@link StorableEvent}) and streams what the sink would store
 * into the staging table of {@link ApiUsageTable}. It runs on its own thread while the rebuild reads the
 * same records, so the two overlap instead of adding up.
 */
final class LoggedEventsStaging implements AutoCloseable {

    private static final Duration POLL = Duration.ofMillis(200);

    private final AtomicLong read = new AtomicLong();
    private final AtomicBoolean stop = new AtomicBoolean();
    private final long total;
    private final ExecutorService thread;
    private final Future<Long> staged;

    private LoggedEventsStaging(String bootstrapServers, ReplayPlan plan, ApiUsageTable table) {
        Map<TopicPartition, Long> starts = new HashMap<>();
        Map<TopicPartition, Long> ends = new HashMap<>();
        plan.startOffsets().forEach((tp, start) -> {
            long end = plan.endOffsets().getOrDefault(tp, start);
            if (tp.topic().equals(Topics.USAGE_EVENTS.name()) && end > start) {
                starts.put(tp, start);
                ends.put(tp, end);
            }
        });
        this.total = ends.entrySet().stream().mapToLong(e -> e.getValue() - starts.get(e.getKey())).sum();
        this.thread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "replay-stage-" + plan.jobId());
            t.setDaemon(true);
            return t;
        });
        this.staged = thread.submit(() -> stage(bootstrapServers, starts, ends, table));
    }

    /** Starts reading in the background. */
    static LoggedEventsStaging start(String bootstrapServers, ReplayPlan plan, ApiUsageTable table) {
        return new LoggedEventsStaging(bootstrapServers, plan, table);
    }

    private long stage(String bootstrapServers, Map<TopicPartition, Long> starts, Map<TopicPartition, Long> ends,
                       ApiUsageTable table) {
        ApiUsageTable.Staging staging = table.staging();
        boolean finished = false;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(properties(bootstrapServers),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> open = new ArrayList<>(starts.keySet());
            consumer.assign(open);
            open.forEach(tp -> consumer.seek(tp, starts.get(tp)));
            long count = 0;
            while (!open.isEmpty() && !stop.get()) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(POLL)) {
                    if (r.offset() >= ends.get(new TopicPartition(r.topic(), r.partition()))) {
                        continue;
                    }
                    count++;
                    StorableEvent event = StorableEvent.decode(r.topic(), r.headers(), r.value());
                    if (event.storable()) {
                        staging.add(r.partition(), r.offset(), event.event());
                    }
                }
                read.set(count);
                List<TopicPartition> done = open.stream().filter(tp -> consumer.position(tp) >= ends.get(tp)).toList();
                if (!done.isEmpty()) {
                    consumer.pause(done);
                    open.removeAll(done);
                }
            }
            if (stop.get()) {
                return -1;
            }
            long rows = staging.finish();
            finished = true;
            return rows;
        } finally {
            if (!finished) {
                staging.abort();
            }
        }
    }

    /**
     * Waits until every record is staged, reporting progress while the staging trails the rebuild.
     *
     * @return the events staged (those the sink would store)
     */
    long await(String jobId, Consumer<ReplayProgress> progress, BooleanSupplier cancelled, long started)
            throws ReplayCancelledException, InterruptedException {
        while (true) {
            if (cancelled.getAsBoolean()) {
                throw new ReplayCancelledException("replay " + jobId + " stopped at the admin's request");
            }
            try {
                long events = staged.get(500, TimeUnit.MILLISECONDS);
                progress.accept(progress(total, started));
                return events;
            } catch (TimeoutException stillReading) {
                progress.accept(progress(read.get(), started));
            } catch (ExecutionException e) {
                throw new IllegalStateException("replay " + jobId + ": reading the events for api_usage failed: "
                        + e.getCause().getMessage(), e.getCause());
            }
        }
    }

    private ReplayProgress progress(long n, long started) {
        double rate = n / Math.max(0.001, (System.nanoTime() - started) / 1e9);
        return new ReplayProgress("staging api_usage", n, total, rate,
                rate <= 0 ? null : Duration.ofSeconds((long) ((total - n) / rate)));
    }

    /** Stops reading (abandoning the COPY) and waits for the thread, so the session is free again. */
    @Override
    public void close() {
        stop.set(true);
        thread.shutdown();
        try {
            if (!thread.awaitTermination(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the replay's staging thread did not stop within 60 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Properties properties(String bootstrapServers) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, IsolationLevel.READ_COMMITTED.toString().toLowerCase(Locale.ROOT));
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
        p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 16 * 1024 * 1024);
        return p;
    }
}
