package io.usagemeter.aggregator.sink;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import io.usagemeter.schema.json.Json;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.common.TopicPartition;
import org.jooq.DSLContext;

/** Events, the summaries a stream would emit for them, and the sink's tables read back as records. */
final class SinkFixtures {

    private SinkFixtures() {
    }

    static UsageEvent event(UUID user, String id, Instant at, Provider provider, int status, long units) {
        return new UsageEvent(id, user, at, provider, "/v1/things/" + id, "POST", status, 40 + units, 100, 2000,
                units * 3, units);
    }

    /** {@code count} events of {@code users} users spread over two months, each id unique. */
    static List<UsageEvent> events(long seed, int users, int count) {
        Random random = new Random(seed);
        List<UUID> ids = new ArrayList<>();
        for (int i = 0; i < users; i++) {
            ids.add(new UUID(seed, i + 1));
        }
        Instant start = Instant.parse("2026-01-20T00:00:00Z");
        Provider[] providers = Provider.values();
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            events.add(event(ids.get(random.nextInt(users)), "e-" + seed + "-" + i,
                    start.plusMillis(random.nextLong(25L * 24 * 3600 * 1000)),
                    providers[random.nextInt(providers.length)], random.nextInt(10) == 0 ? 503 : 200,
                    1 + random.nextInt(5)));
        }
        return events;
    }

    /** The running summary after each event, in order: what a stream without a cache emits. */
    static List<MonthlySummary> runningSummaries(List<UsageEvent> events) {
        Map<MonthlySummaryKey, MonthlySummary> current = new HashMap<>();
        List<MonthlySummary> emitted = new ArrayList<>();
        for (UsageEvent e : events) {
            MonthlySummary next = current.getOrDefault(MonthlySummaryKey.of(e), MonthlySummary.empty(MonthlySummaryKey.of(e)))
                    .plus(e);
            current.put(next.key(), next);
            emitted.add(next);
        }
        return emitted;
    }

    /** The last summary of every key. */
    static Set<MonthlySummary> finalSummaries(List<MonthlySummary> emitted) {
        Map<MonthlySummaryKey, MonthlySummary> last = new LinkedHashMap<>();
        emitted.forEach(s -> last.put(s.key(), s));
        return new HashSet<>(last.values());
    }

    static Set<UsageEvent> readEvents(DSLContext db) {
        var a = Tables.API_USAGE;
        Set<UsageEvent> rows = new HashSet<>();
        db.selectFrom(a).forEach(r -> rows.add(new UsageEvent(r.getEventId(), r.getUserId(),
                r.getOccurredAt().toInstant(), Provider.fromWireName(r.getProvider()).orElseThrow(), r.getEndpoint(),
                r.getMethod(), r.getStatusCode(), r.getResponseTimeMs(), r.getRequestBytes(), r.getResponseBytes(),
                r.getTokens(), r.getUnits())));
        return rows;
    }

    static Set<MonthlySummary> readSummaries(DSLContext db) {
        var s = Tables.MONTHLY_USAGE_SUMMARY;
        Set<MonthlySummary> rows = new HashSet<>();
        db.selectFrom(s).forEach(r -> {
            Map<Provider, Long> byProvider = new EnumMap<>(Provider.class);
            tree(r.getCallsByProvider().data()).fields().forEachRemaining(f ->
                    byProvider.put(Provider.fromWireName(f.getKey()).orElseThrow(), f.getValue().longValue()));
            rows.add(new MonthlySummary(r.getUserId(), YearMonth.from(r.getMonth()), r.getCalls(), r.getUnits(),
                    r.getSuccessfulCalls(), r.getFailedCalls(), r.getTokens(), r.getRequestBytes(), r.getResponseBytes(),
                    r.getResponseTimeMsSum(), r.getResponseTimeMsMax(),
                    r.getFirstEventAt() == null ? null : r.getFirstEventAt().toInstant(),
                    r.getLastEventAt() == null ? null : r.getLastEventAt().toInstant(), byProvider));
        });
        return rows;
    }

    private static com.fasterxml.jackson.databind.JsonNode tree(String json) {
        try {
            return Json.tree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<TopicPartition, Long> readOffsets(DSLContext db, String sink) {
        var o = Tables.SINK_OFFSETS;
        Map<TopicPartition, Long> offsets = new HashMap<>();
        db.selectFrom(o).where(o.SINK.eq(sink))
                .forEach(r -> offsets.put(new TopicPartition(r.getTopic(), r.getPartition()), r.getNextOffset()));
        return offsets;
    }
}
