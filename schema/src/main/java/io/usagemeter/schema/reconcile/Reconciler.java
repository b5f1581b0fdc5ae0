package io.usagemeter.schema.reconcile;

import static io.usagemeter.schema.jooq.Tables.API_USAGE;
import static io.usagemeter.schema.jooq.Tables.MONTHLY_USAGE_SUMMARY;
import static io.usagemeter.schema.jooq.Tables.SINK_OFFSETS;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.reconcile.Reconciliation.Difference;
import io.usagemeter.schema.reconcile.Reconciliation.Source;
import io.usagemeter.schema.reconcile.Reconciliation.Stage;
import io.usagemeter.schema.reconcile.Reconciliation.UserReconciliation;
import io.usagemeter.schema.reconcile.Reconciliation.Verdict;
import io.usagemeter.schema.topics.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.jooq.DSLContext;
import org.jooq.Record3;
import org.jooq.impl.DSL;

/**
 * Compares one month across the pipeline ({@link Reconciliation}). It reads, in this order: the end
 * offsets of the topics, the progress of each stage (consumer groups and {@code sink_offsets}), the
 * topics up to those end offsets, then PostgreSQL and the enforcer. A stage that had processed every
 * record up to the end offsets before PostgreSQL and the enforcer were read must agree exactly.
 *
 * <p>The events topic is read from the month's first instant (less the 5 minutes an event may be ahead
 * of its record time: the record time is {@code occurred_at}), so the time grows with the events since
 * the month began; the dead-letter, admin-command and summary topics are read whole.
 */
public final class Reconciler {

    /** As at ingest and in the aggregator: an event may be at most this far ahead of its record time. */
    private static final Duration FUTURE_TOLERANCE = Duration.ofMinutes(5);
    private static final Duration TIMEOUT = Duration.ofSeconds(60);
    /** The stage name of the sink's dead letters ({@code SinkBatch}); every other stage is a stream's. */
    static final String SINK_STAGE = "aggregator.sink";

    private final Properties kafka;
    private final DSLContext dsl;
    private final EnforcerUsage enforcer;
    private final ReconcileSources sources;
    private final Clock clock;

    /**
     * @param kafka client properties (at least {@code bootstrap.servers}); consumer settings are added here
     * @param enforcer the enforcer's {@code used}, {@link EnforcerUsage#NONE} to leave it out
     */
    public Reconciler(Properties kafka, DSLContext dsl, EnforcerUsage enforcer, ReconcileSources sources, Clock clock) {
        this.kafka = Objects.requireNonNull(kafka, "kafka");
        this.dsl = Objects.requireNonNull(dsl, "dsl");
        this.enforcer = Objects.requireNonNull(enforcer, "enforcer");
        this.sources = Objects.requireNonNull(sources, "sources");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** The month compared for every user, or for {@code onlyUser} when not null. */
    public Reconciliation reconcile(YearMonth month, UUID onlyUser) {
        long started = System.nanoTime();
        Instant checkedAt = clock.instant();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProperties(),
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
             Admin admin = Admin.create(kafka)) {
            String events = Topics.USAGE_EVENTS.name();
            String commands = Topics.ADMIN_COMMANDS.name();
            String summaries = Topics.USAGE_SUMMARIES.name();
            String deadLetters = Topics.DEAD_LETTER.name();
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions(consumer, List.of(events, commands,
                    summaries, deadLetters)), TIMEOUT);
            Map<TopicPartition, Long> aggregatorAt = committed(admin, sources.aggregatorGroup());
            Map<TopicPartition, Long> enforcerAt = committed(admin, sources.enforcerGroup());
            Map<TopicPartition, Long> sinkAt = sinkOffsets();

            Instant monthStart = month.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
            Map<TopicPartition, Long> lastData = new HashMap<>();

            // Dead letters of usage events and of admin commands, by source position.
            Map<String, DeadLettered> deadLetterReasons = new HashMap<>();
            scan(consumer, only(ends, deadLetters), Map.of(), lastData, record -> {
                DeadLetter letter = read(() -> Topics.DEAD_LETTER.valueSerde().deserializer()
                        .deserialize(deadLetters, record.value()));
                if (letter != null && letter.topic() != null && letter.partition() != null && letter.offset() != null) {
                    boolean bySink = SINK_STAGE.equals(letter.stage());
                    deadLetterReasons.merge(position(letter.topic(), letter.partition(), letter.offset()),
                            new DeadLettered(letter.reason(), !bySink, bySink), DeadLettered::and);
                }
            });

            // The latest applied reset of the month per user.
            Map<UUID, Instant> resets = new HashMap<>();
            scan(consumer, only(ends, commands), Map.of(), lastData, record -> {
                if (deadLetterReasons.containsKey(position(record))) {
                    return;
                }
                AdminCommand command = read(() -> Topics.ADMIN_COMMANDS.valueSerde().deserializer()
                        .deserialize(commands, record.value()));
                if (command instanceof AdminCommand.ResetUsage reset && reset.month().equals(month)
                        && (onlyUser == null || onlyUser.equals(reset.userId()))) {
                    resets.merge(reset.userId(), reset.resetAt(), (a, b) -> a.isAfter(b) ? a : b);
                }
            });

            // Accepted events of the month: first occurrence of each (user, event_id).
            Map<UUID, UserEvents> accepted = new HashMap<>();
            Map<String, Long> deadLetteredByReason = new TreeMap<>();
            long[] unreadable = {0};
            Map<TopicPartition, Long> from = startOffsets(consumer, only(ends, events), monthStart.minus(FUTURE_TOLERANCE));
            scan(consumer, only(ends, events), from, lastData, record -> {
                DeadLettered dead = deadLetterReasons.get(position(record));
                UsageEvent event = read(() -> Topics.USAGE_EVENTS.valueSerde().deserializer()
                        .deserialize(events, record.value()));
                if (event == null) {
                    if (dead == null) {
                        unreadable[0]++;
                    } else {
                        // Unreadable but dead-lettered: the key names the user, the record time the month.
                        UUID keyed = read(() -> UUID.fromString(new String(record.key(), StandardCharsets.UTF_8)));
                        if (keyed != null && (onlyUser == null || onlyUser.equals(keyed)) && YearMonth.from(
                                Instant.ofEpochMilli(record.timestamp()).atOffset(ZoneOffset.UTC)).equals(month)) {
                            accepted.computeIfAbsent(keyed, u -> new UserEvents()).deadLettered++;
                            deadLetteredByReason.merge(dead.reason(), 1L, Long::sum);
                        }
                    }
                    return;
                }
                if (!YearMonth.from(event.occurredAt().atOffset(ZoneOffset.UTC)).equals(month)
                        || (onlyUser != null && !onlyUser.equals(event.userId()))) {
                    return;
                }
                UserEvents mine = accepted.computeIfAbsent(event.userId(), u -> new UserEvents());
                if (dead != null) {
                    mine.deadLettered++;
                    deadLetteredByReason.merge(dead.reason(), 1L, Long::sum);
                }
                // A stage that dead-lettered it does not count it; the other stage still does.
                mine.add(event, dead == null || !dead.byStream(), dead == null || !dead.bySink());
            });

            Map<UUID, MonthlySummary> published = new HashMap<>();
            scan(consumer, only(ends, summaries), Map.of(), lastData, record -> {
                MonthlySummaryKey key = read(() -> Topics.USAGE_SUMMARIES.keySerde().deserializer()
                        .deserialize(summaries, record.key()));
                if (key == null || !key.month().equals(month) || (onlyUser != null && !onlyUser.equals(key.userId()))) {
                    return;
                }
                MonthlySummary summary = record.value() == null ? null : read(() -> Topics.USAGE_SUMMARIES.valueSerde()
                        .deserializer().deserialize(summaries, record.value()));
                if (summary == null) {
                    published.remove(key.userId());
                } else {
                    published.put(key.userId(), summary);
                }
            });

            Map<UUID, long[]> summaryRows = summaryRows(month, onlyUser);
            Map<UUID, long[]> apiUsage = apiUsage(month, onlyUser);

            Map<Stage, Long> lag = new EnumMap<>(Stage.class);
            lag.put(Stage.AGGREGATOR, lag(lastData, aggregatorAt, List.of(events, commands)));
            lag.put(Stage.SINK, lag(lastData, sinkAt, List.of(events, summaries)));
            lag.put(Stage.ENFORCER, lag(lastData, enforcerAt, List.of(summaries)));

            Set<UUID> users = new TreeSet<>();
            users.addAll(accepted.keySet());
            users.addAll(published.keySet());
            users.addAll(summaryRows.keySet());
            users.addAll(apiUsage.keySet());
            if (onlyUser != null) {
                users.add(onlyUser);
            }
            Map<UUID, Long> used = new HashMap<>();
            boolean enforcerChecked = enforcer != EnforcerUsage.NONE;
            if (enforcerChecked) {
                for (UUID user : users) {
                    OptionalLong units = enforcer.units(user, month);
                    if (units.isPresent()) {
                        used.put(user, units.getAsLong());
                    }
                }
            }
            Map<TopicPartition, Long> endsAfter = consumer.endOffsets(only(ends, events).keySet(), TIMEOUT);
            boolean newer = endsAfter.entrySet().stream().anyMatch(e -> e.getValue() > ends.get(e.getKey()));

            List<UserReconciliation> rows = new ArrayList<>();
            for (UUID user : users) {
                UserEvents mine = accepted.getOrDefault(user, new UserEvents());
                Instant resetAt = resets.get(user);
                long[] after = mine.after(resetAt);
                MonthlySummary pub = published.get(user);
                long[] row = summaryRows.getOrDefault(user, new long[2]);
                long[] api = apiUsage.getOrDefault(user, new long[2]);
                Long enforcerUsed = used.get(user);
                List<Difference> differences = new ArrayList<>();
                Explainer explain = new Explainer(user, lag, newer, differences);
                explain.compare(Source.PUBLISHED_SUMMARY, "calls", after[0], pub == null ? 0 : pub.calls());
                explain.compare(Source.PUBLISHED_SUMMARY, "units", after[1], pub == null ? 0 : pub.units());
                explain.compare(Source.SUMMARY_ROW, "calls", after[0], row[0]);
                explain.compare(Source.SUMMARY_ROW, "units", after[1], row[1]);
                explain.compare(Source.API_USAGE, "rows", mine.rows.size(), api[0]);
                explain.compare(Source.API_USAGE, "units", mine.rowUnits, api[1]);
                if (enforcerUsed != null) {
                    explain.compare(Source.ENFORCER_USED, "units", after[1], enforcerUsed);
                }
                rows.add(new UserReconciliation(user, mine.firstSeen.size(), mine.deadLettered, resetAt,
                        mine.firstSeen.size() - after[0], after[0], after[1], mine.rows.size(), mine.rowUnits,
                        pub == null ? 0 : pub.calls(), pub == null ? 0 : pub.units(), row[0], row[1], api[0], api[1],
                        enforcerUsed, differences));
            }
            long explained = rows.stream().flatMap(r -> r.differences().stream()).filter(Difference::explained).count();
            long unexplained = rows.stream().mapToLong(r -> r.differences().size()).sum() - explained;
            if (unreadable[0] > 0 && lag.get(Stage.AGGREGATOR) == 0) {
                unexplained++;
            }
            long unanswered = enforcerChecked ? users.size() - used.size() : 0;
            Verdict verdict = unexplained > 0 ? Verdict.UNEXPLAINED
                    : explained > 0 || unanswered > 0 ? Verdict.IN_FLIGHT : Verdict.CLEAN;
            Reconciliation.Totals totals = new Reconciliation.Totals(rows.size(),
                    sum(rows, UserReconciliation::acceptedEvents), sum(rows, UserReconciliation::deadLettered),
                    sum(rows, UserReconciliation::beforeReset), sum(rows, UserReconciliation::expectedCalls),
                    sum(rows, UserReconciliation::expectedUnits), sum(rows, UserReconciliation::publishedCalls),
                    sum(rows, UserReconciliation::publishedUnits), sum(rows, UserReconciliation::summaryCalls),
                    sum(rows, UserReconciliation::summaryUnits), sum(rows, UserReconciliation::apiUsageRows),
                    sum(rows, r -> r.enforcerUsed() == null ? 0 : r.enforcerUsed()), explained, unexplained);
            return new Reconciliation(month, checkedAt, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
                    verdict, totals, lag, newer, deadLetteredByReason, unreadable[0], enforcerChecked, unanswered, rows);
        }
    }

    /** Decides whether a difference of one user is explained, and records it. */
    private record Explainer(UUID user, Map<Stage, Long> lag, boolean newer, List<Difference> differences) {

        void compare(Source source, String measure, long expected, long actual) {
            if (expected == actual) {
                return;
            }
            List<String> reasons = new ArrayList<>();
            // Everything downstream waits on the aggregator; the sink's api_usage rows come from the events directly.
            if (lag.get(Stage.AGGREGATOR) > 0 && source != Source.API_USAGE) {
                reasons.add("aggregator lag " + lag.get(Stage.AGGREGATOR));
            }
            if (source.stage() != Stage.AGGREGATOR && lag.get(source.stage()) > 0) {
                reasons.add(source.stage().name().toLowerCase() + " lag " + lag.get(source.stage()));
            }
            if (newer && actual > expected) {
                reasons.add("events newer than the comparison");
            }
            differences.add(new Difference(user, source, measure, expected, actual,
                    reasons.isEmpty() ? null : "in flight: " + String.join(", ", reasons)));
        }
    }

    /** A source record some stage dead-lettered: by the stream (not counted), by the sink (no row), or both. */
    private record DeadLettered(String reason, boolean byStream, boolean bySink) {
        DeadLettered and(DeadLettered other) {
            return new DeadLettered(reason, byStream || other.byStream, bySink || other.bySink);
        }
    }

    /** One user's accepted events of the month, in topic order. */
    private static final class UserEvents {
        final Map<String, UsageEvent> firstSeen = new HashMap<>();
        final Set<String> rows = new HashSet<>();
        long rowUnits;
        long deadLettered;

        void add(UsageEvent event, boolean counted, boolean stored) {
            if (counted) {
                firstSeen.putIfAbsent(event.eventId(), event);
            }
            if (stored && rows.add(event.eventId() + '\u0000' + event.occurredAt())) {
                rowUnits += event.units();
            }
        }

        /** Calls and units of the events after {@code resetAt} (all of them when null). */
        long[] after(Instant resetAt) {
            long calls = 0;
            long units = 0;
            for (UsageEvent event : firstSeen.values()) {
                if (resetAt == null || event.occurredAt().isAfter(resetAt)) {
                    calls++;
                    units += event.units();
                }
            }
            return new long[] {calls, units};
        }
    }

    private Properties consumerProperties() {
        Properties p = new Properties();
        p.putAll(kafka);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10000");
        p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(64 * 1024 * 1024));
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "meter-reconcile");
        return p;
    }

    private static List<TopicPartition> partitions(KafkaConsumer<?, ?> consumer, List<String> topics) {
        List<TopicPartition> all = new ArrayList<>();
        for (String topic : topics) {
            consumer.partitionsFor(topic, TIMEOUT).forEach(p -> all.add(new TopicPartition(topic, p.partition())));
        }
        return all;
    }

    private static Map<TopicPartition, Long> only(Map<TopicPartition, Long> offsets, String topic) {
        Map<TopicPartition, Long> of = new HashMap<>();
        offsets.forEach((tp, offset) -> {
            if (tp.topic().equals(topic)) {
                of.put(tp, offset);
            }
        });
        return of;
    }

    /** The first offset at or after {@code from}'s record time per partition; the end where there is none. */
    private static Map<TopicPartition, Long> startOffsets(KafkaConsumer<?, ?> consumer, Map<TopicPartition, Long> ends,
                                                          Instant from) {
        Map<TopicPartition, Long> query = new HashMap<>();
        ends.keySet().forEach(tp -> query.put(tp, from.toEpochMilli()));
        Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query, TIMEOUT);
        Map<TopicPartition, Long> starts = new HashMap<>();
        ends.forEach((tp, end) -> {
            OffsetAndTimestamp at = found.get(tp);
            starts.put(tp, at == null ? end : at.offset());
        });
        return starts;
    }

    /**
     * Reads {@code ends}' partitions from {@code from} (the beginning where absent) up to the end offsets,
     * noting the offset of the last record of each partition in {@code lastData}.
     */
    private static void scan(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> ends,
                             Map<TopicPartition, Long> from, Map<TopicPartition, Long> lastData,
                             Consumer<ConsumerRecord<byte[], byte[]>> each) {
        consumer.assign(ends.keySet());
        consumer.seekToBeginning(ends.keySet());
        from.forEach(consumer::seek);
        // The last record before the start still counts for the lag: it may be the partition's last.
        for (TopicPartition tp : ends.keySet()) {
            lastData.putIfAbsent(tp, -1L);
        }
        Set<TopicPartition> open = new HashSet<>(ends.keySet());
        open.removeIf(tp -> consumer.position(tp, TIMEOUT) >= ends.get(tp));
        long deadline = System.nanoTime() + TIMEOUT.toNanos() * 5;
        while (!open.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("could not read " + open + " to its end within " + TIMEOUT.multipliedBy(5));
            }
            consumer.pause(pausedOf(ends.keySet(), open));
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                TopicPartition tp = new TopicPartition(record.topic(), record.partition());
                if (record.offset() >= ends.get(tp)) {
                    continue;
                }
                lastData.merge(tp, record.offset(), Math::max);
                each.accept(record);
            }
            open.removeIf(tp -> consumer.position(tp, TIMEOUT) >= ends.get(tp));
        }
        consumer.unsubscribe();
    }

    private static Set<TopicPartition> pausedOf(Collection<TopicPartition> all, Set<TopicPartition> open) {
        Set<TopicPartition> paused = new HashSet<>(all);
        paused.removeAll(open);
        return paused;
    }

    /**
     * Records not yet processed, summed over the partitions of {@code topics}: from the stage's next offset to
     * the last record (transaction markers after it are not records to process). A stage with no progress on a
     * partition that holds records has everything still to process.
     */
    private static long lag(Map<TopicPartition, Long> lastData, Map<TopicPartition, Long> progress, List<String> topics) {
        long lag = 0;
        for (Map.Entry<TopicPartition, Long> e : lastData.entrySet()) {
            if (!topics.contains(e.getKey().topic()) || e.getValue() < 0) {
                continue;
            }
            long next = progress.getOrDefault(e.getKey(), 0L);
            lag += Math.max(0, e.getValue() + 1 - next);
        }
        return lag;
    }

    private static Map<TopicPartition, Long> committed(Admin admin, String group) {
        try {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            Map<TopicPartition, Long> next = new HashMap<>();
            offsets.forEach((tp, at) -> {
                if (at != null) {
                    next.put(tp, at.offset());
                }
            });
            return next;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the offsets of " + group, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot read the committed offsets of " + group + ": " + e.getMessage(), e);
        }
    }

    private Map<TopicPartition, Long> sinkOffsets() {
        Map<TopicPartition, Long> next = new HashMap<>();
        dsl.select(SINK_OFFSETS.TOPIC, SINK_OFFSETS.PARTITION, SINK_OFFSETS.NEXT_OFFSET)
                .from(SINK_OFFSETS)
                .where(SINK_OFFSETS.SINK.eq(sources.sinkName()))
                .forEach(r -> next.put(new TopicPartition(r.value1(), r.value2()), r.value3()));
        return next;
    }

    private Map<UUID, long[]> summaryRows(YearMonth month, UUID onlyUser) {
        Map<UUID, long[]> rows = new HashMap<>();
        dsl.select(MONTHLY_USAGE_SUMMARY.USER_ID, MONTHLY_USAGE_SUMMARY.CALLS, MONTHLY_USAGE_SUMMARY.UNITS)
                .from(MONTHLY_USAGE_SUMMARY)
                .where(MONTHLY_USAGE_SUMMARY.MONTH.eq(month.atDay(1)))
                .and(onlyUser == null ? DSL.noCondition() : MONTHLY_USAGE_SUMMARY.USER_ID.eq(onlyUser))
                .forEach((Record3<UUID, Long, Long> r) -> rows.put(r.value1(), new long[] {r.value2(), r.value3()}));
        return rows;
    }

    private Map<UUID, long[]> apiUsage(YearMonth month, UUID onlyUser) {
        Map<UUID, long[]> rows = new HashMap<>();
        var from = month.atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC);
        var until = month.plusMonths(1).atDay(1).atStartOfDay().atOffset(ZoneOffset.UTC);
        dsl.select(API_USAGE.USER_ID, DSL.count().cast(Long.class), DSL.sum(API_USAGE.UNITS).cast(Long.class))
                .from(API_USAGE)
                .where(API_USAGE.OCCURRED_AT.ge(from).and(API_USAGE.OCCURRED_AT.lt(until)))
                .and(onlyUser == null ? DSL.noCondition() : API_USAGE.USER_ID.eq(onlyUser))
                .groupBy(API_USAGE.USER_ID)
                .forEach(r -> rows.put(r.value1(), new long[] {r.value2(), r.value3()}));
        return rows;
    }

    private static String position(ConsumerRecord<?, ?> record) {
        return position(record.topic(), record.partition(), record.offset());
    }

    private static String position(String topic, int partition, long offset) {
        return topic + '/' + partition + '@' + offset;
    }

    /** The value read, or null when the bytes cannot be read. */
    private static <T> T read(java.util.function.Supplier<T> reading) {
        try {
            return reading.get();
        } catch (RuntimeException unreadable) {
            return null;
        }
    }

    private static long sum(List<UserReconciliation> rows, java.util.function.ToLongFunction<UserReconciliation> f) {
        return rows.stream().mapToLong(f).sum();
    }
}
