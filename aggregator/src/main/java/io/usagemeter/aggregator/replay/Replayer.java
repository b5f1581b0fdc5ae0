package io.usagemeter.aggregator.replay;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorTopology;
import io.usagemeter.aggregator.internal.StateKeys;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.tools.StreamsResetter;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds months from the event log while the live aggregator keeps running (docs/operations/replay.md):
 * a temporary Kafka Streams application with its own application id runs the aggregator's own topology
 * over {@code meter.usage-events} and {@code meter.admin-commands} from the range start minus the dedupe
 * window, into fresh state that nothing publishes (no output topic, no changelogs: see
 * {@link AggregatorTopology#rebuild}). Because every
 * decision of that topology depends on event data only, it decides exactly as the live aggregator
 * did. The rebuilt summaries are then compared with the summaries topic and with PostgreSQL:
 *
 * <ul>
 *   <li>rebuilt = stream, database different: the row is rewritten (under the sink's offset rule), so
 *       the database ends equal to the stream;</li>
 *   <li>rebuilt ≠ stream, after letting both catch up with new input: reported as diverging, never
 *       published (the live aggregator would overwrite it with its next summary of the user); a code
 *       or state fix of the aggregator needs the aggregator itself rebuilt (docs/operations/rewind.md).</li>
 * </ul>
 *
 * Alongside, {@link LoggedEventsStaging} stages the same events for {@link ApiUsageTable}, which restores
 * {@code api_usage} of the range's months to what the sink's rules give from the log, in the same transaction
 * as the summary repairs.
 *
 * Everything temporary (consumer group, internal and private topics, local state) is removed at the
 * end however the replay ends, so a stopped replay is simply started again.
 */
public final class Replayer {

    private static final Logger LOG = LoggerFactory.getLogger(Replayer.class);
    private static final Duration POLL = Duration.ofMillis(500);
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
    private static final int CATCH_UP_ROUNDS = 3;
    private static final DateTimeFormatter RESETTER_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS", Locale.ROOT).withZone(ZoneOffset.UTC);

    private final AggregatorConfig aggregator;
    private final DSLContext db;
    private final Clock clock;
    private final Path workDir;
    private final short replicationFactor;

    /**
     * @param aggregator the live aggregator's settings: the same dedupe window, retention and reset horizon
     *     make the same decisions; its application id prefixes the temporary one
     * @param workDir where the temporary local state goes (removed afterwards)
     */
    public Replayer(AggregatorConfig aggregator, DSLContext db, Clock clock, Path workDir, short replicationFactor) {
        this.aggregator = aggregator;
        this.db = db;
        this.clock = clock;
        this.workDir = workDir;
        this.replicationFactor = replicationFactor;
    }

    /**
     * Fixes what the replay will read and checks that the topics still hold it.
     *
     * @throws ReplayRefusedException when retention removed records the range needs; the message names the
     *     earliest time still available
     */
    public ReplayPlan plan(ReplayRange range, boolean dryRun) throws ReplayRefusedException {
        return new InputLog(aggregator).plan(range, dryRun, "replaying");
    }

    /**
     * Runs {@code plan}: rebuilds, compares, repairs (unless a dry run) and cleans up.
     *
     * @param progress called about twice a second while input is read
     * @param cancelled polled while running; when it answers true the replay stops, removes what it created and
     *     throws {@link ReplayCancelledException} (nothing half-written: repairs happen in one transaction at the end)
     */
    public ReplayReport run(ReplayPlan plan, Consumer<ReplayProgress> progress, BooleanSupplier cancelled)
            throws ReplayCancelledException {
        long started = System.nanoTime();
        String appId = aggregator.applicationId() + "-replay-" + plan.jobId();
        LOG.info("replay {} of {} reads {} input records from {} (application {})", plan.jobId(), plan.range(),
                plan.recordsToRead(), plan.eventsFrom(), appId);
        Path stateDir = null;
        KafkaStreams streams = null;
        try (Admin admin = admin();
             ReplayAnnouncer announcer = plan.dryRun() ? null
                     : ReplayAnnouncer.start(aggregator.bootstrapServers(), admin, replicationFactor, plan, clock);
             ApiUsageTable apiUsage = ApiUsageTable.open(db, plan.range())) {
            LoggedEventsStaging staging = null;
            try {
                stateDir = Files.createDirectories(workDir).resolve(appId);
                // AUTO (METER_KAFKA_REPLICATION_FACTOR unset): the broker's default for this temporary topic.
                admin.createTopics(List.of(replicationFactor == TopicSettings.AUTO
                                ? new NewTopic(appId + "-dead-letter", Optional.of(1), Optional.empty())
                                : new NewTopic(appId + "-dead-letter", 1, replicationFactor)))
                        .all().get(30, TimeUnit.SECONDS);
                positionInputs(appId, plan);
                streams = new KafkaStreams(AggregatorTopology.rebuild(aggregator.withApplicationId(appId)),
                        streamsProperties(appId, stateDir));
                streams.start();
                staging = LoggedEventsStaging.start(aggregator.bootstrapServers(), plan, apiUsage);
                Map<TopicPartition, Long> ends = plan.endOffsets();
                awaitProcessed(admin, appId, plan, ends, streams, progress, cancelled, started);
                Map<MonthlySummaryKey, MonthlySummary> rebuilt = rebuilt(streams, plan.range());
                LiveSummaries live = LiveSummaries.read(aggregator.bootstrapServers(), plan.range());
                Set<MonthlySummaryKey> differing = differing(rebuilt, live);
                // The live aggregator kept counting new events while the replay ran: let both catch up.
                for (int round = 1; round <= CATCH_UP_ROUNDS && !differing.isEmpty(); round++) {
                    Map<TopicPartition, Long> now = InputLog.offsets(admin, List.copyOf(ends.keySet()), OffsetSpec.latest())
                            .entrySet().stream().collect(java.util.stream.Collectors.toMap(
                                    Map.Entry::getKey, e -> e.getValue().offset()));
                    LOG.info("replay {}: {} summaries differ from the stream; catching up with new input (round {})",
                            plan.jobId(), differing.size(), round);
                    awaitProcessed(admin, appId, plan, now, streams, progress, cancelled, started);
                    awaitAggregatorCaughtUp(admin, now, cancelled);
                    rebuilt = rebuilt(streams, plan.range());
                    live = LiveSummaries.read(aggregator.bootstrapServers(), plan.range());
                    differing = differing(rebuilt, live);
                }
                Map<MonthlySummaryKey, MonthlySummary> rows = new SummaryTable(db).read(plan.range());
                List<SummaryChange> changes = new ArrayList<>();
                List<SummaryTable.Repair> repairs = new ArrayList<>();
                for (MonthlySummaryKey key : union(rebuilt.keySet(), live.summaries().keySet())) {
                    MonthlySummary after = rebuilt.get(key);
                    LiveSummaries.Position position = live.summaries().get(key);
                    MonthlySummary stream = position == null ? null : position.summary();
                    MonthlySummary row = rows.get(key);
                    if (differing.contains(key)) {
                        changes.add(new SummaryChange(key, SummaryChange.Kind.STREAM_DIVERGES, stream, row, after));
                    } else if (row == null || !row.equals(SummaryTable.stored(after))) {
                        changes.add(new SummaryChange(key, SummaryChange.Kind.DATABASE_REPAIRED, stream, row, after));
                        repairs.add(new SummaryTable.Repair(after, position.partition(), position.offset()));
                    }
                }
                changes.sort(Comparator.comparing((SummaryChange c) -> c.key().month())
                        .thenComparing(c -> c.key().userId()));
                long comparedAt = System.nanoTime();
                long logged = staging.await(plan.jobId(), progress, cancelled, started);
                long stagedAt = System.nanoTime();
                awaitSinkCaughtUp(apiUsage, plan, cancelled);
                if (cancelled.getAsBoolean()) {
                    throw new ReplayCancelledException("replay " + plan.jobId() + " stopped before writing anything");
                }
                // One transaction for every repair, raw events and summaries: a stop leaves all or nothing.
                Instant now = clock.instant();
                Repairs done = apiUsage.inTransaction(tx -> new Repairs(
                        apiUsage.repair(tx, logged, plan.dryRun(), now),
                        plan.dryRun() ? 0 : new SummaryTable(tx).repair(repairs, now)));
                long read = plan.recordsToRead();
                long finishedAt = System.nanoTime();
                Duration took = Duration.ofNanos(finishedAt - started);
                ApiUsageRepair events = done.apiUsage();
                LOG.info("replay {}: rebuilt and compared the summaries in {} ms, then waited {} ms for the api_usage"
                                + " staging ({} events), and {} ms for the comparison and repair transaction", plan.jobId(),
                        (comparedAt - started) / 1_000_000, (stagedAt - comparedAt) / 1_000_000, logged,
                        (finishedAt - stagedAt) / 1_000_000);
                LOG.info("replay {} of {} done in {} s: {} summaries rebuilt, {} rows repaired, {} diverging;"
                                + " api_usage: {} rows inserted, {} rewritten, {} removed, {} kept (not in the log){}",
                        plan.jobId(), plan.range(), took.toSeconds(), rebuilt.size(), done.summaries(),
                        changes.stream().filter(c -> c.kind() == SummaryChange.Kind.STREAM_DIVERGES).count(),
                        events.rowsInserted(), events.rowsRewritten(), events.rowsRemoved(), events.rowsKeptNotInLog(),
                        plan.dryRun() ? " (dry run: nothing written)" : "");
                return new ReplayReport(plan.jobId(), plan.range(), plan.dryRun(), read, took, rebuilt.size(),
                        done.summaries(), changes, events);
            } catch (ExecutionException e) {
                throw new IllegalStateException("replay " + plan.jobId() + " failed: " + e.getCause().getMessage(), e.getCause());
            } catch (java.util.concurrent.TimeoutException e) {
                throw new IllegalStateException("replay " + plan.jobId() + ": Kafka did not answer in time", e);
            } catch (IOException e) {
                throw new IllegalStateException("replay " + plan.jobId() + ": cannot create local state under " + workDir, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ReplayCancelledException("replay " + plan.jobId() + " interrupted");
            } finally {
                if (staging != null) {
                    staging.close();
                }
                if (streams != null) {
                    streams.close(CloseOptions.timeout(ADMIN_TIMEOUT)
                            .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
                    streams.cleanUp();
                }
                removeTemporaries(admin, appId);
                deleteQuietly(stateDir);
            }
        }
    }

    private record Repairs(ApiUsageRepair apiUsage, int summaries) {
    }

    /**
     * Waits (up to a minute) until the sink has written every event up to the plan's end, so rows it is
     * about to write are not counted as missing. Whatever it writes meanwhile is harmless: the replay's
     * insert skips a row the sink wrote first, and the sink skips an event the replay stored first.
     */
    private void awaitSinkCaughtUp(ApiUsageTable apiUsage, ReplayPlan plan, BooleanSupplier cancelled)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline && !cancelled.getAsBoolean()) {
            Map<Integer, Long> written = apiUsage.sinkPositions(Topics.USAGE_EVENTS.name());
            if (written.isEmpty()) {
                LOG.warn("replay {}: no sink has written {} yet: is it running?", plan.jobId(), Topics.USAGE_EVENTS.name());
                return;
            }
            boolean caughtUp = plan.endOffsets().entrySet().stream()
                    .filter(e -> e.getKey().topic().equals(Topics.USAGE_EVENTS.name()))
                    .allMatch(e -> e.getValue() <= plan.startOffsets().getOrDefault(e.getKey(), 0L)
                            || written.getOrDefault(e.getKey().partition(), 0L) >= e.getValue());
            if (caughtUp) {
                return;
            }
            Thread.sleep(POLL.toMillis());
        }
        LOG.warn("replay {}: the sink has not written {} up to the replay's end yet; rows it has still to write"
                + " count as missing (the replay inserts them, the sink then skips them)", plan.jobId(),
                Topics.USAGE_EVENTS.name());
    }

    /** Kafka's own reset tool positions the temporary application: every input partition at the range's start time. */
    private void positionInputs(String appId, ReplayPlan plan) {
        String[] args = {
            "--bootstrap-server", aggregator.bootstrapServers(),
            "--application-id", appId,
            "--input-topics", Topics.USAGE_EVENTS.name() + "," + Topics.ADMIN_COMMANDS.name(),
            "--to-datetime", RESETTER_TIME.format(plan.eventsFrom()),
            "--force"
        };
        int exit = new StreamsResetter().execute(args);
        if (exit != 0) {
            throw new IllegalStateException("StreamsResetter could not position " + appId + " (exit " + exit + ")");
        }
    }

    private Properties streamsProperties(String appId, Path stateDir) {
        Properties p = aggregator.withApplicationId(appId).streamsProperties();
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        // A throwaway application is never resumed (a failed or stopped replay starts again from scratch),
        // so exactly-once buys nothing here; a longer commit and a larger cache let it read faster.
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 1000);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 64L * 1024 * 1024);
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, appId + "-dead-letter");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), 5000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG),
                IsolationLevel.READ_COMMITTED.toString().toLowerCase(Locale.ROOT));
        return p;
    }

    private void awaitProcessed(Admin admin, String appId, ReplayPlan plan, Map<TopicPartition, Long> ends,
                                KafkaStreams streams, Consumer<ReplayProgress> progress, BooleanSupplier cancelled,
                                long started) throws ReplayCancelledException, InterruptedException, ExecutionException,
            java.util.concurrent.TimeoutException {
        long total = total(plan.startOffsets(), ends);
        while (true) {
            if (cancelled.getAsBoolean()) {
                throw new ReplayCancelledException("replay " + plan.jobId() + " stopped at the admin's request");
            }
            KafkaStreams.State state = streams.state();
            if (state == KafkaStreams.State.ERROR || state == KafkaStreams.State.NOT_RUNNING
                    || state == KafkaStreams.State.PENDING_ERROR) {
                throw new IllegalStateException("replay " + plan.jobId() + ": the rebuilding application stopped (" + state + ")");
            }
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(appId)
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            long read = 0;
            boolean done = true;
            for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
                long start = plan.startOffsets().getOrDefault(e.getKey(), 0L);
                OffsetAndMetadata at = committed.get(e.getKey());
                long position = at == null ? start : at.offset();
                read += Math.max(0, Math.min(position, e.getValue()) - start);
                done &= position >= e.getValue() || e.getValue() <= start;
            }
            double seconds = Math.max(0.001, (System.nanoTime() - started) / 1e9);
            double rate = read / seconds;
            Duration eta = rate <= 0 ? null : Duration.ofSeconds((long) ((total - read) / rate));
            progress.accept(new ReplayProgress("rebuilding", read, total, rate, eta));
            if (done && state == KafkaStreams.State.RUNNING) {
                return;
            }
            Thread.sleep(POLL.toMillis());
        }
    }

    /** Waits until the live aggregator committed up to {@code ends} too, so both sides compare the same input. */
    private void awaitAggregatorCaughtUp(Admin admin, Map<TopicPartition, Long> ends, BooleanSupplier cancelled)
            throws InterruptedException, ExecutionException, java.util.concurrent.TimeoutException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline && !cancelled.getAsBoolean()) {
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(aggregator.applicationId())
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
            if (committed.isEmpty()) {
                LOG.warn("the live aggregator {} has committed nothing: is it running?", aggregator.applicationId());
                return;
            }
            boolean caughtUp = ends.entrySet().stream().allMatch(e -> {
                OffsetAndMetadata at = committed.get(e.getKey());
                return e.getValue() == 0 || at != null && at.offset() >= e.getValue();
            });
            if (caughtUp) {
                return;
            }
            Thread.sleep(POLL.toMillis());
        }
        LOG.warn("the live aggregator {} has not processed the input up to the replay's end yet", aggregator.applicationId());
    }

    private static long total(Map<TopicPartition, Long> starts, Map<TopicPartition, Long> ends) {
        return ends.entrySet().stream().mapToLong(e -> Math.max(0, e.getValue() - starts.getOrDefault(e.getKey(), 0L))).sum();
    }

    private static Map<MonthlySummaryKey, MonthlySummary> rebuilt(KafkaStreams streams, ReplayRange range) {
        ReadOnlyKeyValueStore<String, MonthlySummary> store = streams.store(StoreQueryParameters.fromNameAndType(
                AggregatorTopology.MONTHLY_SUMMARIES_STORE, QueryableStoreTypes.<String, MonthlySummary>keyValueStore()));
        Map<MonthlySummaryKey, MonthlySummary> rebuilt = new HashMap<>();
        try (KeyValueIterator<String, MonthlySummary> all = store.range(StateKeys.monthStart(range.firstMonth()),
                StateKeys.monthStart(range.lastMonth().plusMonths(1)))) {
            while (all.hasNext()) {
                KeyValue<String, MonthlySummary> kv = all.next();
                if (range.contains(kv.value.month())) {
                    rebuilt.put(kv.value.key(), kv.value);
                }
            }
        }
        return rebuilt;
    }

    private static Set<MonthlySummaryKey> differing(Map<MonthlySummaryKey, MonthlySummary> rebuilt, LiveSummaries live) {
        Set<MonthlySummaryKey> differing = new HashSet<>();
        for (MonthlySummaryKey key : union(rebuilt.keySet(), live.summaries().keySet())) {
            LiveSummaries.Position position = live.summaries().get(key);
            if (position == null || !position.summary().equals(rebuilt.get(key))) {
                differing.add(key);
            }
        }
        return differing;
    }

    private static Set<MonthlySummaryKey> union(Set<MonthlySummaryKey> a, Set<MonthlySummaryKey> b) {
        Set<MonthlySummaryKey> all = new HashSet<>(a);
        all.addAll(b);
        return all;
    }

    /** The consumer group and every topic of the temporary application (dead letters, and any an older version left). */
    private void removeTemporaries(Admin admin, String appId) {
        try {
            List<String> topics = admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                    .filter(name -> name.startsWith(appId + "-")).toList();
            if (!topics.isEmpty()) {
                admin.deleteTopics(topics).all().get(30, TimeUnit.SECONDS);
            }
            admin.deleteConsumerGroups(List.of(appId)).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof org.apache.kafka.common.errors.GroupIdNotFoundException)) {
                LOG.warn("replay {}: could not remove all temporary resources: {}", appId, e.getCause().toString());
            }
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            LOG.warn("replay {}: could not remove all temporary resources: {}", appId, e.toString());
        }
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            LOG.warn("could not remove {}: {}", dir, e.toString());
        }
    }

    private Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, aggregator.bootstrapServers()));
    }
}
