package io.usagemeter.aggregator.replay;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.jooq.tables.MonthlyUsageSummary;
import io.usagemeter.schema.jooq.tables.records.MonthlyUsageSummaryRecord;
import io.usagemeter.schema.json.Json;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.JSONB;

/**
 * The replay's view of {@code monthly_usage_summary}: read a range of months, and repair rows under the sink's
 * offset rule (in the caller's transaction when built on one).
 */
final class SummaryTable {

    private static final MonthlyUsageSummary SUMMARY = Tables.MONTHLY_USAGE_SUMMARY;
    private static final TypeReference<Map<String, Long>> BY_PROVIDER = new TypeReference<>() { };

    /** A row to rewrite with the stream's summary and the topic position that summary came from. */
    record Repair(MonthlySummary summary, int partition, long offset) {
    }

    private final DSLContext db;

    SummaryTable(DSLContext db) {
        this.db = db;
    }

    Map<MonthlySummaryKey, MonthlySummary> read(ReplayRange range) {
        Map<MonthlySummaryKey, MonthlySummary> rows = new HashMap<>();
        db.selectFrom(SUMMARY)
                .where(SUMMARY.MONTH.between(range.firstMonth().atDay(1), range.lastMonth().atDay(1)))
                .forEach(r -> {
                    MonthlySummary s = summary(r);
                    rows.put(s.key(), s);
                });
        return rows;
    }

    /**
     * Rewrites each row with the stream's summary, unless the sink already wrote it from a later offset
     * (then the row is newer than what the replay compared). Runs in the caller's transaction, which holds
     * every repair of the replay: a stop half-way leaves every row either as it was or repaired.
     */
    int repair(List<Repair> repairs, Instant now) {
        int written = 0;
        for (Repair r : repairs) {
            Map<Field<?>, Object> row = row(r, now.atOffset(ZoneOffset.UTC));
            written += db.insertInto(SUMMARY)
                    .set(row)
                    .onConflict(SUMMARY.USER_ID, SUMMARY.MONTH)
                    .doUpdate()
                    .set(row)
                    // The sink's rule, with "at or before": the row may be the very record compared.
                    .where(SUMMARY.SOURCE_OFFSET.isNull()
                            .or(SUMMARY.SOURCE_PARTITION.ne(r.partition()))
                            .or(SUMMARY.SOURCE_OFFSET.le(r.offset())))
                    .execute();
        }
        return written;
    }

    /** Every column of the repaired row, the same for the insert and for the update of an existing row. */
    private static Map<Field<?>, Object> row(Repair r, OffsetDateTime now) {
        MonthlySummary s = r.summary();
        Map<Field<?>, Object> row = new LinkedHashMap<>();
        row.put(SUMMARY.USER_ID, s.userId());
        row.put(SUMMARY.MONTH, s.month().atDay(1));
        row.put(SUMMARY.CALLS, s.calls());
        row.put(SUMMARY.UNITS, s.units());
        row.put(SUMMARY.SUCCESSFUL_CALLS, s.successfulCalls());
        row.put(SUMMARY.FAILED_CALLS, s.failedCalls());
        row.put(SUMMARY.TOKENS, s.tokens());
        row.put(SUMMARY.REQUEST_BYTES, s.requestBytes());
        row.put(SUMMARY.RESPONSE_BYTES, s.responseBytes());
        row.put(SUMMARY.RESPONSE_TIME_MS_SUM, s.responseTimeMsSum());
        row.put(SUMMARY.RESPONSE_TIME_MS_MAX, s.responseTimeMsMax());
        row.put(SUMMARY.FIRST_EVENT_AT, time(s.firstEventAt()));
        row.put(SUMMARY.LAST_EVENT_AT, time(s.lastEventAt()));
        row.put(SUMMARY.CALLS_BY_PROVIDER, JSONB.valueOf(byProvider(s.callsByProvider())));
        row.put(SUMMARY.SOURCE_PARTITION, r.partition());
        row.put(SUMMARY.SOURCE_OFFSET, r.offset());
        row.put(SUMMARY.UPDATED_AT, now);
        return row;
    }

    /** What PostgreSQL can hold of {@code s}: event times to the microsecond. */
    static MonthlySummary stored(MonthlySummary s) {
        return new MonthlySummary(s.userId(), s.month(), s.calls(), s.units(), s.successfulCalls(), s.failedCalls(),
                s.tokens(), s.requestBytes(), s.responseBytes(), s.responseTimeMsSum(), s.responseTimeMsMax(),
                micros(s.firstEventAt()), micros(s.lastEventAt()), s.callsByProvider());
    }

    private static MonthlySummary summary(MonthlyUsageSummaryRecord r) {
        return new MonthlySummary(r.getUserId(), YearMonth.from(r.getMonth()), r.getCalls(), r.getUnits(),
                r.getSuccessfulCalls(), r.getFailedCalls(), r.getTokens(), r.getRequestBytes(), r.getResponseBytes(),
                r.getResponseTimeMsSum(), r.getResponseTimeMsMax(), instant(r.getFirstEventAt()),
                instant(r.getLastEventAt()), providers(r.getCallsByProvider()));
    }

    private static Map<Provider, Long> providers(JSONB json) {
        Map<Provider, Long> calls = new EnumMap<>(Provider.class);
        try {
            Json.reader().forType(BY_PROVIDER).<Map<String, Long>>readValue(json.data()).forEach((name, count) ->
                    calls.put(Provider.fromWireName(name).orElseThrow(() ->
                            new IllegalStateException("unknown provider " + name + " in monthly_usage_summary")), count));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("unreadable calls_by_provider " + json.data(), e);
        }
        return calls;
    }

    private static String byProvider(Map<Provider, Long> calls) {
        Map<String, Long> byWireName = new LinkedHashMap<>();
        calls.forEach((provider, count) -> byWireName.put(provider.wireName(), count));
        return Json.write(byWireName);
    }

    private static OffsetDateTime time(Instant at) {
        return at == null ? null : at.atOffset(ZoneOffset.UTC);
    }

    private static Instant instant(OffsetDateTime at) {
        return at == null ? null : at.toInstant();
    }

    private static Instant micros(Instant at) {
        return at == null ? null : at.truncatedTo(ChronoUnit.MICROS);
    }
}
