package io.usagemeter.aggregator;

import io.usagemeter.aggregator.internal.RecentEvents;
import io.usagemeter.aggregator.internal.RecentEventsStore;
import io.usagemeter.aggregator.internal.StateKeys;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;

/** The aggregator's topology under {@link TopologyTestDriver}, built by the same builder as production. */
final class AggregatorDriver implements AutoCloseable {

    private final TopologyTestDriver driver;
    private final TestInputTopic<String, UsageEvent> events;
    private final TestInputTopic<String, byte[]> rawEvents;
    private final TestInputTopic<String, AdminCommand> commands;
    private final TestOutputTopic<MonthlySummaryKey, MonthlySummary> summaries;
    private final TestOutputTopic<byte[], DeadLetter> deadLetters;
    private final Duration publishInterval;
    private int commandIds;

    AggregatorDriver(Path stateDir) {
        this(AggregatorConfig.defaults("driver:9092", stateDir));
    }

    AggregatorDriver(AggregatorConfig config) {
        this(config, config.streamsProperties());
    }

    /**
     * With other Streams properties than production's. Needed for one case: under exactly-once,
     * {@link TopologyTestDriver} drops the dead-letter records of a <em>deserialization</em>
     * failure (they are sent while the record is enqueued, outside the driver's commit cycle);
     * the broker test checks that path with exactly-once.
     */
    AggregatorDriver(AggregatorConfig config, Properties streamsProperties) {
        driver = new TopologyTestDriver(AggregatorTopology.build(config), streamsProperties);
        publishInterval = config.commitInterval();
        events = driver.createInputTopic(Topics.USAGE_EVENTS.name(),
                Topics.USAGE_EVENTS.keySerde().serializer(), Topics.USAGE_EVENTS.valueSerde().serializer());
        rawEvents = driver.createInputTopic(Topics.USAGE_EVENTS.name(), new StringSerializer(), new ByteArraySerializer());
        commands = driver.createInputTopic(Topics.ADMIN_COMMANDS.name(),
                Topics.ADMIN_COMMANDS.keySerde().serializer(), Topics.ADMIN_COMMANDS.valueSerde().serializer());
        summaries = driver.createOutputTopic(Topics.USAGE_SUMMARIES.name(),
                Topics.USAGE_SUMMARIES.keySerde().deserializer(), Topics.USAGE_SUMMARIES.valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(Topics.DEAD_LETTER.name(),
                new ByteArrayDeserializer(), Topics.DEAD_LETTER.valueSerde().deserializer());
    }

    static UsageEvent event(String id, UUID user, String occurredAt) {
        return event(id, user, occurredAt, Provider.OPENAI, 200);
    }

    static UsageEvent event(String id, UUID user, String occurredAt, Provider provider, int status) {
        return new UsageEvent(id, user, Instant.parse(occurredAt), provider, "/v1/chat/completions", "POST", status,
                120, 300, 2_000, 50, 1);
    }

    /** Sends events as ingest does: keyed by user_id, record time = occurred_at. */
    void send(UsageEvent... sent) {
        for (UsageEvent e : sent) {
            events.pipeInput(e.userId().toString(), e, e.occurredAt());
        }
    }

    void sendRaw(String key, byte[] value, Instant timestamp) {
        rawEvents.pipeInput(key, value, timestamp);
    }

    /** An event under any key, for records that a well-behaved producer would not send. */
    void sendRawEvent(String key, UsageEvent e) {
        events.pipeInput(key, e, e.occurredAt());
    }

    /** An event with a record time other than its {@code occurred_at}. */
    void sendAt(UsageEvent e, Instant recordTime) {
        events.pipeInput(e.userId().toString(), e, recordTime);
    }

    void reset(UUID user, YearMonth month, String resetAt) {
        Instant at = Instant.parse(resetAt);
        commands.pipeInput(user.toString(), new AdminCommand.ResetUsage("reset-" + ++commandIds, user, month, at,
                at, "admin@test"), at);
    }

    void command(String key, AdminCommand command) {
        commands.pipeInput(key, command, command.issuedAt());
    }

    /** The summary in the state store, or {@code null}. */
    MonthlySummary stored(UUID user, YearMonth month) {
        return summaryStore().get(StateKeys.userMonth(month, user));
    }

    KeyValueStore<String, MonthlySummary> summaryStore() {
        return driver.getKeyValueStore(AggregatorTopology.MONTHLY_SUMMARIES_STORE);
    }

    <V> KeyValueStore<String, V> store(String name) {
        return driver.getKeyValueStore(name);
    }

    /** The task's dedupe memory. */
    RecentEvents recentEvents() {
        return ((RecentEventsStore) driver.getStateStore(AggregatorTopology.RECENT_EVENTS_STORE)).memory();
    }

    /** Every summary emitted since the last read, in order, after the changed ones were published. */
    List<TestRecord<MonthlySummaryKey, MonthlySummary>> emitted() {
        publish();
        return summaries.readRecordsToList();
    }

    /** The latest summary per key emitted since the last read, after the changed ones were published. */
    Map<MonthlySummaryKey, MonthlySummary> latest() {
        publish();
        return summaries.readKeyValuesToMap();
    }

    /** Lets one publication interval of wall-clock time pass: the summaries changed since the last are sent. */
    void publish() {
        driver.advanceWallClockTime(publishInterval);
    }

    /** Summaries on the output topic now, without letting time pass. */
    List<TestRecord<MonthlySummaryKey, MonthlySummary>> emittedSoFar() {
        return summaries.readRecordsToList();
    }

    List<TestRecord<byte[], DeadLetter>> deadLetters() {
        return deadLetters.readRecordsToList();
    }

    void advanceWallClock(Duration d) {
        driver.advanceWallClockTime(d);
    }

    @Override
    public void close() {
        driver.close();
    }
}
