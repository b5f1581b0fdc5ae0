package io.usagemeter.aggregator.sink;

import static org.jooq.impl.DSL.excluded;
import static org.jooq.impl.DSL.field;
import static org.jooq.impl.DSL.name;
import static org.jooq.impl.DSL.select;
import static org.jooq.impl.DSL.table;
import static org.jooq.impl.DSL.unnest;
import static org.jooq.impl.DSL.val;

import io.usagemeter.aggregator.sink.SinkBatch.SummaryWrite;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Routines;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.jooq.tables.ApiUsage;
import io.usagemeter.schema.jooq.tables.MonthlyUsageSummary;
import io.usagemeter.schema.jooq.tables.SinkOffsets;
import io.usagemeter.schema.jooq.tables.Users;
import io.usagemeter.schema.json.Json;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.sql.PreparedStatement;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.common.TopicPartition;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.InsertValuesStep5;
import org.jooq.Table;
import org.jooq.impl.SQLDataType;

/**
 * The sink's SQL, with bind values only, through the generated tables except for the raw-event
 * insert (see {@link #insertEvents}). Rows travel as one array per column and are expanded by
 * {@code unnest}: one statement and one round trip per table and batch, which SinkWriteBench measured
 * as the fastest correct form. Every method runs in the caller's transaction.
 */
public final class SinkWriter {

    private static final ApiUsage API_USAGE = Tables.API_USAGE;
    private static final MonthlyUsageSummary SUMMARY = Tables.MONTHLY_USAGE_SUMMARY;
    private static final SinkOffsets SINK_OFFSETS = Tables.SINK_OFFSETS;
    private static final Users USERS = Tables.USERS;

    /** Rows changed by one batch, per table. */
    record Written(int events, int summaries, int summariesDeleted, int users) {
        static final Written NONE = new Written(0, 0, 0, 0);

        Written plus(Written other) {
            return new Written(events + other.events, summaries + other.summaries,
                    summariesDeleted + other.summariesDeleted, users + other.users);
        }
    }

    private SinkWriter() {
    }

    /**
     * Writes {@code batch} and its next offsets. {@code knownMonths} are months whose api_usage
     * partition is known to exist; the months created here are added to {@code monthsEnsured}, to be
     * remembered only once the transaction commits.
     */
    static Written write(DSLContext tx, String sink, SinkBatch batch, Set<YearMonth> knownMonths,
                         Set<YearMonth> monthsEnsured, Instant now) {
        Written written = writeRows(tx, batch, knownMonths, monthsEnsured, now);
        storeOffsets(tx, sink, batch.nextOffsets(), now.atOffset(ZoneOffset.UTC));
        return written;
    }

    /** {@link #write} without the offsets: the rows of one part of a batch being isolated. */
    static Written writeRows(DSLContext tx, SinkBatch batch, Set<YearMonth> knownMonths, Set<YearMonth> monthsEnsured,
                             Instant now) {
        OffsetDateTime at = now.atOffset(ZoneOffset.UTC);
        int users = ensureUsers(tx, batch.userIds());
        for (YearMonth month : batch.eventMonths()) {
            if (!knownMonths.contains(month)) {
                Routines.ensureApiUsagePartition(tx.configuration(), month.atDay(1));
                monthsEnsured.add(month);
            }
        }
        int events = insertEvents(tx, batch.events(), at);
        List<SummaryWrite> upserts = batch.summaries().stream().filter(s -> s.summary() != null).toList();
        List<SummaryWrite> tombstones = batch.summaries().stream().filter(s -> s.summary() == null).toList();
        int summaries = upsertSummaries(tx, upserts, at);
        int deleted = deleteSummaries(tx, tombstones);
        return new Written(events, summaries, deleted, users);
    }

    /** Users first seen in an event get a row (plan free, no e-mail), so nothing refers to a missing user. */
    static int ensureUsers(DSLContext tx, Collection<UUID> userIds) {
        if (userIds.isEmpty()) {
            return 0;
        }
        Table<?> ids = unnest(val(userIds.toArray(UUID[]::new), SQLDataType.UUID.array())).as("u", "id");
        return tx.insertInto(USERS, USERS.ID)
                .select(select(field(name("u", "id"), SQLDataType.UUID)).from(ids))
                .onConflict(USERS.ID).doNothing()
                .execute();
    }

    /**
     * Two copies of one {@code (user_id, event_id)} with {@code occurred_at} this close are one event: ingest
     * refuses events more than 35 days late, so copies the stream ignores are never further apart (36 days).
     */
    public static final String SAME_EVENT_WINDOW = "interval '864 hours'";

    /**
     * The raw-event insert: one array per column, expanded by {@code unnest}. Written in plain JDBC
     * on the transaction's connection because SinkWriteBench measured it 1.5 to 2 times faster than
     * the same statement built by jOOQ (which binds each array as text); the SQL is a constant and
     * every value is a bind value.
     */
    private static final String INSERT_EVENTS = "INSERT INTO api_usage (event_id, user_id, occurred_at, provider,"
            + " endpoint, method, status_code, response_time_ms, request_bytes, response_bytes, tokens, units,"
            + " ingested_at)"
            + " SELECT e.*, ? FROM unnest(?::text[], ?::uuid[], ?::timestamptz[], ?::text[], ?::text[], ?::text[],"
            + " ?::int[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[])"
            + " AS e (event_id, user_id, occurred_at, provider, endpoint, method, status_code, response_time_ms,"
            + " request_bytes, response_bytes, tokens, units)"
            + " WHERE NOT EXISTS (SELECT 1 FROM api_usage a WHERE a.user_id = e.user_id AND a.event_id = e.event_id"
            + " AND a.occurred_at BETWEEN e.occurred_at - " + SAME_EVENT_WINDOW + " AND e.occurred_at + " + SAME_EVENT_WINDOW
            + " OFFSET 0)"
            + " ON CONFLICT DO NOTHING";

    /**
     * Inserts the events, one row per {@code (user_id, event_id)}: the first copy read is kept, and a
     * copy of an event already stored is ignored (a redelivery, a replay, or a resend with another
     * {@code occurred_at}, which the stream does not count either). The table's key has to contain
     * {@code occurred_at} (the partition column), so the key alone cannot refuse such a resend: the
     * batch keeps the first copy of each event and the insert skips events already stored within 36 days
     * of it: ingest refuses events more than 35 days late, so two copies of one call the stream ignores
     * are never further apart. That bound lets each probe skip all but the partitions of the months
     * around the event (run-time partition pruning), and {@code OFFSET 0} keeps the check a per-row index
     * probe: as an anti-join PostgreSQL hashes the whole table for every batch (seen with EXPLAIN).
     * Returns rows inserted. Public only for {@code SinkWriteBench}, which measures this statement
     * against the alternatives.
     */
    public static int insertEvents(DSLContext tx, List<UsageEvent> batch, OffsetDateTime ingestedAt) {
        if (batch.isEmpty()) {
            return 0;
        }
        List<UsageEvent> events = firstCopies(batch);
        int n = events.size();
        String[] eventIds = new String[n];
        UUID[] userIds = new UUID[n];
        String[] occurredAt = new String[n];
        String[] providers = new String[n];
        String[] endpoints = new String[n];
        String[] methods = new String[n];
        Integer[] statusCodes = new Integer[n];
        Long[] responseTimes = new Long[n];
        Long[] requestBytes = new Long[n];
        Long[] responseBytes = new Long[n];
        Long[] tokens = new Long[n];
        Long[] units = new Long[n];
        for (int i = 0; i < n; i++) {
            UsageEvent e = events.get(i);
            eventIds[i] = e.eventId();
            userIds[i] = e.userId();
            occurredAt[i] = e.occurredAt().toString(); // ISO-8601 in UTC, microseconds kept
            providers[i] = e.provider().wireName();
            endpoints[i] = e.endpoint();
            methods[i] = e.method();
            statusCodes[i] = e.statusCode();
            responseTimes[i] = e.responseTimeMs();
            requestBytes[i] = e.requestBytes();
            responseBytes[i] = e.responseBytes();
            tokens[i] = e.tokens();
            units[i] = e.units();
        }
        return tx.connectionResult(c -> {
            try (PreparedStatement ps = c.prepareStatement(INSERT_EVENTS)) {
                ps.setObject(1, ingestedAt);
                ps.setArray(2, c.createArrayOf("text", eventIds));
                ps.setArray(3, c.createArrayOf("uuid", userIds));
                ps.setArray(4, c.createArrayOf("text", occurredAt));
                ps.setArray(5, c.createArrayOf("text", providers));
                ps.setArray(6, c.createArrayOf("text", endpoints));
                ps.setArray(7, c.createArrayOf("text", methods));
                ps.setArray(8, c.createArrayOf("int4", statusCodes));
                ps.setArray(9, c.createArrayOf("int8", responseTimes));
                ps.setArray(10, c.createArrayOf("int8", requestBytes));
                ps.setArray(11, c.createArrayOf("int8", responseBytes));
                ps.setArray(12, c.createArrayOf("int8", tokens));
                ps.setArray(13, c.createArrayOf("int8", units));
                return ps.executeUpdate();
            }
        });
    }

    /** The first copy of each {@code (user_id, event_id)}, in the order read (a user's events come from one partition). */
    static List<UsageEvent> firstCopies(List<UsageEvent> events) {
        Map<String, UsageEvent> first = new LinkedHashMap<>();
        for (UsageEvent e : events) {
            first.putIfAbsent(e.userId() + "|" + e.eventId(), e);
        }
        return first.size() == events.size() ? events : List.copyOf(first.values());
    }

    /**
     * Upserts absolute values. A row is only overwritten by a summary from a higher offset of the
     * same partition (or from another partition, after the topic was repartitioned): values cannot
     * tell old from new, since a reset lowers them.
     */
    static int upsertSummaries(DSLContext tx, List<SummaryWrite> writes, OffsetDateTime updatedAt) {
        if (writes.isEmpty()) {
            return 0;
        }
        int n = writes.size();
        UUID[] userIds = new UUID[n];
        LocalDate[] months = new LocalDate[n];
        Long[] calls = new Long[n];
        Long[] units = new Long[n];
        Long[] successful = new Long[n];
        Long[] failed = new Long[n];
        Long[] tokens = new Long[n];
        Long[] requestBytes = new Long[n];
        Long[] responseBytes = new Long[n];
        Long[] timeSum = new Long[n];
        Long[] timeMax = new Long[n];
        OffsetDateTime[] first = new OffsetDateTime[n];
        OffsetDateTime[] last = new OffsetDateTime[n];
        String[] byProvider = new String[n];
        Integer[] partitions = new Integer[n];
        Long[] offsets = new Long[n];
        for (int i = 0; i < n; i++) {
            SummaryWrite w = writes.get(i);
            MonthlySummary s = w.summary();
            userIds[i] = s.userId();
            months[i] = s.month().atDay(1);
            calls[i] = s.calls();
            units[i] = s.units();
            successful[i] = s.successfulCalls();
            failed[i] = s.failedCalls();
            tokens[i] = s.tokens();
            requestBytes[i] = s.requestBytes();
            responseBytes[i] = s.responseBytes();
            timeSum[i] = s.responseTimeMsSum();
            timeMax[i] = s.responseTimeMsMax();
            first[i] = s.firstEventAt() == null ? null : s.firstEventAt().atOffset(ZoneOffset.UTC);
            last[i] = s.lastEventAt() == null ? null : s.lastEventAt().atOffset(ZoneOffset.UTC);
            byProvider[i] = callsByProvider(s.callsByProvider());
            partitions[i] = w.partition();
            offsets[i] = w.offset();
        }
        Table<?> rows = table("unnest({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {11}, {12}, "
                        + "cast({13} as jsonb[]), {14}, {15})",
                array(userIds, SUMMARY.USER_ID), array(months, SUMMARY.MONTH), array(calls, SUMMARY.CALLS),
                array(units, SUMMARY.UNITS), array(successful, SUMMARY.SUCCESSFUL_CALLS),
                array(failed, SUMMARY.FAILED_CALLS), array(tokens, SUMMARY.TOKENS),
                array(requestBytes, SUMMARY.REQUEST_BYTES), array(responseBytes, SUMMARY.RESPONSE_BYTES),
                array(timeSum, SUMMARY.RESPONSE_TIME_MS_SUM), array(timeMax, SUMMARY.RESPONSE_TIME_MS_MAX),
                array(first, SUMMARY.FIRST_EVENT_AT), array(last, SUMMARY.LAST_EVENT_AT),
                val(byProvider, SQLDataType.CLOB.array()),
                array(partitions, SUMMARY.SOURCE_PARTITION), array(offsets, SUMMARY.SOURCE_OFFSET))
                .as("s", "user_id", "month", "calls", "units", "successful_calls", "failed_calls", "tokens",
                        "request_bytes", "response_bytes", "response_time_ms_sum", "response_time_ms_max",
                        "first_event_at", "last_event_at", "calls_by_provider", "source_partition", "source_offset");
        return tx.insertInto(SUMMARY,
                        SUMMARY.USER_ID, SUMMARY.MONTH, SUMMARY.CALLS, SUMMARY.UNITS, SUMMARY.SUCCESSFUL_CALLS,
                        SUMMARY.FAILED_CALLS, SUMMARY.TOKENS, SUMMARY.REQUEST_BYTES, SUMMARY.RESPONSE_BYTES,
                        SUMMARY.RESPONSE_TIME_MS_SUM, SUMMARY.RESPONSE_TIME_MS_MAX, SUMMARY.FIRST_EVENT_AT,
                        SUMMARY.LAST_EVENT_AT, SUMMARY.CALLS_BY_PROVIDER, SUMMARY.SOURCE_PARTITION,
                        SUMMARY.SOURCE_OFFSET, SUMMARY.UPDATED_AT)
                .select(select(
                        column(rows, SUMMARY.USER_ID), column(rows, SUMMARY.MONTH), column(rows, SUMMARY.CALLS),
                        column(rows, SUMMARY.UNITS), column(rows, SUMMARY.SUCCESSFUL_CALLS),
                        column(rows, SUMMARY.FAILED_CALLS), column(rows, SUMMARY.TOKENS),
                        column(rows, SUMMARY.REQUEST_BYTES), column(rows, SUMMARY.RESPONSE_BYTES),
                        column(rows, SUMMARY.RESPONSE_TIME_MS_SUM), column(rows, SUMMARY.RESPONSE_TIME_MS_MAX),
                        column(rows, SUMMARY.FIRST_EVENT_AT), column(rows, SUMMARY.LAST_EVENT_AT),
                        column(rows, SUMMARY.CALLS_BY_PROVIDER), column(rows, SUMMARY.SOURCE_PARTITION),
                        column(rows, SUMMARY.SOURCE_OFFSET), val(updatedAt, SUMMARY.UPDATED_AT))
                        .from(rows))
                .onConflict(SUMMARY.USER_ID, SUMMARY.MONTH)
                .doUpdate()
                .set(SUMMARY.CALLS, excluded(SUMMARY.CALLS))
                .set(SUMMARY.UNITS, excluded(SUMMARY.UNITS))
                .set(SUMMARY.SUCCESSFUL_CALLS, excluded(SUMMARY.SUCCESSFUL_CALLS))
                .set(SUMMARY.FAILED_CALLS, excluded(SUMMARY.FAILED_CALLS))
                .set(SUMMARY.TOKENS, excluded(SUMMARY.TOKENS))
                .set(SUMMARY.REQUEST_BYTES, excluded(SUMMARY.REQUEST_BYTES))
                .set(SUMMARY.RESPONSE_BYTES, excluded(SUMMARY.RESPONSE_BYTES))
                .set(SUMMARY.RESPONSE_TIME_MS_SUM, excluded(SUMMARY.RESPONSE_TIME_MS_SUM))
                .set(SUMMARY.RESPONSE_TIME_MS_MAX, excluded(SUMMARY.RESPONSE_TIME_MS_MAX))
                .set(SUMMARY.FIRST_EVENT_AT, excluded(SUMMARY.FIRST_EVENT_AT))
                .set(SUMMARY.LAST_EVENT_AT, excluded(SUMMARY.LAST_EVENT_AT))
                .set(SUMMARY.CALLS_BY_PROVIDER, excluded(SUMMARY.CALLS_BY_PROVIDER))
                .set(SUMMARY.SOURCE_PARTITION, excluded(SUMMARY.SOURCE_PARTITION))
                .set(SUMMARY.SOURCE_OFFSET, excluded(SUMMARY.SOURCE_OFFSET))
                .set(SUMMARY.UPDATED_AT, excluded(SUMMARY.UPDATED_AT))
                .where(SUMMARY.SOURCE_OFFSET.isNull()
                        .or(SUMMARY.SOURCE_PARTITION.ne(excluded(SUMMARY.SOURCE_PARTITION)))
                        .or(SUMMARY.SOURCE_OFFSET.lt(excluded(SUMMARY.SOURCE_OFFSET))))
                .execute();
    }

    /** A tombstone deletes the row, under the same offset rule as an upsert. */
    static int deleteSummaries(DSLContext tx, List<SummaryWrite> tombstones) {
        int deleted = 0;
        for (SummaryWrite t : tombstones) {
            deleted += tx.deleteFrom(SUMMARY)
                    .where(SUMMARY.USER_ID.eq(t.key().userId()))
                    .and(SUMMARY.MONTH.eq(t.key().month().atDay(1)))
                    .and(SUMMARY.SOURCE_OFFSET.isNull()
                            .or(SUMMARY.SOURCE_PARTITION.ne(t.partition()))
                            .or(SUMMARY.SOURCE_OFFSET.lt(t.offset())))
                    .execute();
        }
        return deleted;
    }

    /** Stores the next offsets; an offset never moves back, so a late writer cannot rewind the sink. */
    static void storeOffsets(DSLContext tx, String sink, Map<TopicPartition, Long> nextOffsets, OffsetDateTime at) {
        if (nextOffsets.isEmpty()) {
            return;
        }
        InsertValuesStep5<?, String, String, Integer, Long, OffsetDateTime> insert = tx.insertInto(SINK_OFFSETS,
                SINK_OFFSETS.SINK, SINK_OFFSETS.TOPIC, SINK_OFFSETS.PARTITION, SINK_OFFSETS.NEXT_OFFSET,
                SINK_OFFSETS.UPDATED_AT);
        nextOffsets.entrySet().stream()
                .sorted(Map.Entry.comparingByKey(
                        java.util.Comparator.comparing(TopicPartition::topic).thenComparing(TopicPartition::partition)))
                .forEach(e -> insert.values(sink, e.getKey().topic(), e.getKey().partition(), e.getValue(), at));
        insert.onConflict(SINK_OFFSETS.SINK, SINK_OFFSETS.TOPIC, SINK_OFFSETS.PARTITION)
                .doUpdate()
                .set(SINK_OFFSETS.NEXT_OFFSET, excluded(SINK_OFFSETS.NEXT_OFFSET))
                .set(SINK_OFFSETS.UPDATED_AT, excluded(SINK_OFFSETS.UPDATED_AT))
                .where(SINK_OFFSETS.NEXT_OFFSET.le(excluded(SINK_OFFSETS.NEXT_OFFSET)))
                .execute();
    }

    /** The stored next offsets of {@code partitions}; a partition without a row is absent. */
    static Map<TopicPartition, Long> readOffsets(DSLContext tx, String sink, Collection<TopicPartition> partitions) {
        Map<TopicPartition, Long> offsets = new HashMap<>();
        if (partitions.isEmpty()) {
            return offsets;
        }
        Set<String> topics = new java.util.HashSet<>();
        partitions.forEach(tp -> topics.add(tp.topic()));
        tx.select(SINK_OFFSETS.TOPIC, SINK_OFFSETS.PARTITION, SINK_OFFSETS.NEXT_OFFSET)
                .from(SINK_OFFSETS)
                .where(SINK_OFFSETS.SINK.eq(sink).and(SINK_OFFSETS.TOPIC.in(topics)))
                .forEach(r -> {
                    TopicPartition tp = new TopicPartition(r.value1(), r.value2());
                    if (partitions.contains(tp)) {
                        offsets.put(tp, r.value3());
                    }
                });
        return offsets;
    }

    /** {@code {"openai": 12, "github": 3}}: wire names, in the enum's order. */
    static String callsByProvider(Map<Provider, Long> calls) {
        Map<String, Long> byWireName = new LinkedHashMap<>();
        calls.forEach((provider, count) -> byWireName.put(provider.wireName(), count));
        return Json.write(byWireName);
    }

    private static <T> Field<T[]> array(T[] values, Field<T> column) {
        return val(values, column.getDataType().array());
    }

    private static <T> Field<T> column(Table<?> rows, Field<T> column) {
        return field(name(rows.getName(), column.getName()), column.getDataType());
    }
}
