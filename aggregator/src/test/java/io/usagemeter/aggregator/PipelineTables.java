package io.usagemeter.aggregator;

import io.usagemeter.aggregator.EndToEndWorkload.EventKey;
import io.usagemeter.aggregator.EndToEndWorkload.SummaryRow;
import io.usagemeter.aggregator.EndToEndWorkload.YearMonthOfUser;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.json.Json;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.YearMonth;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.Record3;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/** What the sink's tables hold, read back in the workload's terms. */
final class PipelineTables {

    /** Cheap totals, compared before the full tables are read. */
    record Totals(long summaryRows, long calls, long units, long apiUsageRows) {
    }

    private final DataSource dataSource;

    PipelineTables(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    Totals totals() throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            DSLContext db = DSL.using(c, SQLDialect.POSTGRES);
            var s = Tables.MONTHLY_USAGE_SUMMARY;
            Record3<Integer, java.math.BigDecimal, java.math.BigDecimal> summary =
                    db.select(DSL.count(), DSL.sum(s.CALLS), DSL.sum(s.UNITS)).from(s).fetchOne();
            int apiUsage = db.fetchCount(Tables.API_USAGE);
            return new Totals(summary.value1(), summary.value2() == null ? 0 : summary.value2().longValue(),
                    summary.value3() == null ? 0 : summary.value3().longValue(), apiUsage);
        }
    }

    Map<YearMonthOfUser, SummaryRow> summaries() throws SQLException {
        var s = Tables.MONTHLY_USAGE_SUMMARY;
        Map<YearMonthOfUser, SummaryRow> rows = new HashMap<>();
        try (Connection c = dataSource.getConnection()) {
            DSL.using(c, SQLDialect.POSTGRES).selectFrom(s).forEach(r -> {
                Map<Provider, Long> byProvider = new EnumMap<>(Provider.class);
                try {
                    Json.tree(r.getCallsByProvider().data()).fields().forEachRemaining(f -> byProvider.put(
                            Provider.fromWireName(f.getKey()).orElseThrow(), f.getValue().longValue()));
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new IllegalStateException("calls_by_provider is not JSON: " + r.getCallsByProvider(), e);
                }
                SummaryRow row = new SummaryRow(r.getUserId(), YearMonth.from(r.getMonth()), r.getCalls(), r.getUnits(),
                        r.getSuccessfulCalls(), r.getFailedCalls(), r.getTokens(), r.getRequestBytes(),
                        r.getResponseBytes(), r.getResponseTimeMsSum(), r.getResponseTimeMsMax(),
                        r.getFirstEventAt() == null ? null : r.getFirstEventAt().toInstant(),
                        r.getLastEventAt() == null ? null : r.getLastEventAt().toInstant(), byProvider);
                rows.put(new YearMonthOfUser(row.userId(), row.month()), row);
            });
        }
        return rows;
    }

    /** Every api_usage row's key and units; a key seen twice would be a bug of the table's primary key. */
    Map<EventKey, Long> apiUsageUnits() throws SQLException {
        var a = Tables.API_USAGE;
        Map<EventKey, Long> rows = new HashMap<>();
        try (Connection c = dataSource.getConnection()) {
            DSL.using(c, SQLDialect.POSTGRES).select(a.USER_ID, a.EVENT_ID, a.OCCURRED_AT, a.UNITS).from(a)
                    .forEach(r -> {
                        Long previous = rows.put(new EventKey(r.value1(), r.value2(), r.value3().toInstant()), r.value4());
                        if (previous != null) {
                            throw new IllegalStateException("api_usage holds " + r + " twice");
                        }
                    });
        }
        return rows;
    }
}
