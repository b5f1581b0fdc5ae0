package io.usagemeter.aggregator.sink;

import static io.usagemeter.aggregator.sink.SinkFixtures.event;
import static io.usagemeter.aggregator.sink.SinkFixtures.readEvents;
import static io.usagemeter.aggregator.sink.SinkFixtures.readOffsets;
import static io.usagemeter.aggregator.sink.SinkFixtures.readSummaries;
import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.aggregator.sink.SinkBatch.SummaryWrite;
import io.usagemeter.embedded.TestStack;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.jooq.Tables;
import java.sql.Connection;
import java.time.Instant;
import java.time.YearMonth;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.common.TopicPartition;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The sink's SQL against a real migrated PostgreSQL, one transaction per batch as the sink runs it. */
class SinkWriterTest {

    private static final String SINK = "writer-test";
    private static final String SUMMARIES = "summaries";
    private static final String EVENTS = "events";
    private static final Instant NOW = Instant.parse("2026-02-10T12:00:00Z");

    private static TestStack server;
    private static Connection connection;
    private static DSLContext db;
    private final Set<YearMonth> knownMonths = new HashSet<>();

    @BeforeAll
    static void startDatabase() throws Exception {
        server = TestStack.withSharedBroker();
        server.jdbcUrl("meter");
        DataSource dataSource = server.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        connection = dataSource.getConnection();
        db = DSL.using(connection, SQLDialect.POSTGRES);
    }

    @AfterAll
    static void stopDatabase() throws Exception {
        if (connection != null) {
            connection.close();
        }
        if (server != null) {
            server.close();
        }
    }

    @BeforeEach
    void emptyTables() {
        db.truncate(Tables.API_USAGE).execute();
        db.truncate(Tables.MONTHLY_USAGE_SUMMARY).execute();
        db.truncate(Tables.SINK_OFFSETS).execute();
        db.deleteFrom(Tables.USERS).execute();
    }

    @Test
    void insertsEventsOnceAndCreatesUsersWithoutEmail() {
        UUID ann = UUID.randomUUID();
        UUID bob = UUID.randomUUID();
        UsageEvent first = event(ann, "a1", Instant.parse("2026-01-05T10:00:00.123456Z"), Provider.OPENAI, 200, 2);
        UsageEvent second = event(bob, "b1", Instant.parse("2026-02-01T00:00:00Z"), Provider.GITHUB, 404, 1);

        write(batch(List.of(first, second, first), List.of(), Map.of(tp(EVENTS, 0), 3L)));
        write(batch(List.of(second, first), List.of(), Map.of(tp(EVENTS, 0), 5L)));

        assertThat(readEvents(db)).containsExactlyInAnyOrder(first, second);
        assertThat(db.select(Tables.USERS.ID, Tables.USERS.EMAIL, Tables.USERS.PLAN).from(Tables.USERS).fetch())
                .extracting(r -> r.value1() + " " + r.value2() + " " + r.value3())
                .containsExactlyInAnyOrder(ann + " null free", bob + " null free");
        assertThat(readOffsets(db, SINK)).containsExactly(Map.entry(tp(EVENTS, 0), 5L));
    }

    @Test
    void aCopyWithAnotherOccurredAtIsTheSameEventAndKeepsTheFirstRow() {
        UUID ann = UUID.randomUUID();
        UsageEvent original = event(ann, "a1", Instant.parse("2026-01-31T23:59:00Z"), Provider.OPENAI, 200, 2);
        UsageEvent restamped = event(ann, "a1", Instant.parse("2026-02-01T00:01:00Z"), Provider.OPENAI, 200, 2);
        UsageEvent restampedAgain = event(ann, "a1", Instant.parse("2026-02-01T00:02:00Z"), Provider.OPENAI, 200, 2);

        // In one batch, then in a later one (another month's partition): the stream counts the first copy only.
        write(batch(List.of(original, restamped), List.of(), Map.of(tp(EVENTS, 0), 2L)));
        write(batch(List.of(restampedAgain), List.of(), Map.of(tp(EVENTS, 0), 3L)));

        assertThat(readEvents(db)).containsExactly(original);
    }

    @Test
    void createsTheMonthlyPartitionOfAMonthWithoutOne() {
        UsageEvent farAhead = event(UUID.randomUUID(), "x1", Instant.parse("2031-03-15T08:00:00Z"), Provider.OTHER, 200, 1);

        Set<YearMonth> ensured = write(batch(List.of(farAhead), List.of(), Map.of(tp(EVENTS, 0), 1L)));

        assertThat(ensured).containsExactly(YearMonth.of(2031, 3));
        assertThat(db.fetchCount(DSL.table(DSL.name("api_usage_p203103")))).isEqualTo(1);
        assertThat(db.fetchCount(DSL.table(DSL.name("api_usage_pdefault")))).isZero();
    }

    @Test
    void upsertsAbsoluteValuesAndAResetMayLowerThem() {
        UUID user = UUID.randomUUID();
        MonthlySummary two = summary(user, 2);
        MonthlySummary five = summary(user, 5);
        MonthlySummary afterReset = summary(user, 1);

        write(batch(List.of(), List.of(new SummaryWrite(two.key(), two, 0, 4)), Map.of(tp(SUMMARIES, 0), 5L)));
        write(batch(List.of(), List.of(new SummaryWrite(five.key(), five, 0, 9)), Map.of(tp(SUMMARIES, 0), 10L)));
        assertThat(readSummaries(db)).containsExactly(five);

        write(batch(List.of(), List.of(new SummaryWrite(afterReset.key(), afterReset, 0, 12)), Map.of(tp(SUMMARIES, 0), 13L)));
        assertThat(readSummaries(db)).containsExactly(afterReset);
        assertThat(db.fetchCount(Tables.USERS, Tables.USERS.ID.eq(user))).isEqualTo(1);
    }

    @Test
    void anOlderSummaryNeverOverwritesANewerOne() {
        UUID user = UUID.randomUUID();
        MonthlySummary newer = summary(user, 1); // a reset: fewer calls, yet newer
        MonthlySummary older = summary(user, 7);

        write(batch(List.of(), List.of(new SummaryWrite(newer.key(), newer, 2, 30)), Map.of(tp(SUMMARIES, 2), 31L)));
        write(batch(List.of(), List.of(new SummaryWrite(older.key(), older, 2, 20)), Map.of(tp(SUMMARIES, 2), 21L)));

        assertThat(readSummaries(db)).containsExactly(newer);
        // Offsets never move back either, so the sink does not rewind past what it wrote.
        assertThat(readOffsets(db, SINK)).containsExactly(Map.entry(tp(SUMMARIES, 2), 31L));
        // The same offset again changes nothing.
        write(batch(List.of(), List.of(new SummaryWrite(older.key(), older, 2, 30)), Map.of(tp(SUMMARIES, 2), 31L)));
        assertThat(readSummaries(db)).containsExactly(newer);
    }

    @Test
    void aTombstoneDeletesTheRowUnlessANewerSummaryIsStored() {
        UUID user = UUID.randomUUID();
        MonthlySummary three = summary(user, 3);
        write(batch(List.of(), List.of(new SummaryWrite(three.key(), three, 1, 10)), Map.of(tp(SUMMARIES, 1), 11L)));

        write(batch(List.of(), List.of(new SummaryWrite(three.key(), null, 1, 8)), Map.of(tp(SUMMARIES, 1), 9L)));
        assertThat(readSummaries(db)).containsExactly(three);

        write(batch(List.of(), List.of(new SummaryWrite(three.key(), null, 1, 11)), Map.of(tp(SUMMARIES, 1), 12L)));
        assertThat(readSummaries(db)).isEmpty();
    }

    private Set<YearMonth> write(SinkBatch batch) {
        Set<YearMonth> ensured = new HashSet<>();
        db.transaction(c -> SinkWriter.write(c.dsl(), SINK, batch, knownMonths, ensured, NOW));
        knownMonths.addAll(ensured);
        return ensured;
    }

    private static SinkBatch batch(List<UsageEvent> events, List<SummaryWrite> summaries, Map<TopicPartition, Long> offsets) {
        return new SinkBatch(events, summaries, List.of(), offsets, events.size() + summaries.size());
    }

    /** The summary of {@code calls} OpenAI calls of January 2026. */
    private static MonthlySummary summary(UUID user, int calls) {
        MonthlySummary s = MonthlySummary.empty(new MonthlySummaryKey(user, YearMonth.of(2026, 1)));
        for (int i = 0; i < calls; i++) {
            s = s.plus(event(user, "s" + i, Instant.parse("2026-01-10T00:00:00Z").plusSeconds(i), Provider.OPENAI,
                    i % 3 == 0 ? 500 : 200, 2));
        }
        return s;
    }

    private static TopicPartition tp(String topic, int partition) {
        return new TopicPartition(topic, partition);
    }
}
