package io.usagemeter.enforcer;

import io.usagemeter.enforcer.internal.ReferralRefusal;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.topics.Topics;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;

/** The topology on a {@link TopologyTestDriver}, with the plans of V3 loaded and typed helpers. */
final class EnforcerDriver implements AutoCloseable {

    static final YearMonth JAN = YearMonth.of(2026, 1);
    static final YearMonth FEB = YearMonth.of(2026, 2);

    final TopologyTestDriver driver;
    final TestInputTopic<String, Plan> plans;
    final TestInputTopic<MonthlySummaryKey, MonthlySummary> summaries;
    final TestInputTopic<String, AdminCommand> commands;
    final TestInputTopic<String, ReferralEvent> referrals;
    final TestOutputTopic<String, LimitEvent> limitEvents;
    private int sequence;

    EnforcerDriver(BigDecimal grace, Path stateDir) {
        this(grace, stateDir, new Properties());
    }

    /** With {@code overrides} on production's Streams properties. */
    EnforcerDriver(BigDecimal grace, Path stateDir, Properties overrides) {
        Properties props = EnforcerConfig.defaults("unused:9092", stateDir, null, null, null)
                .withGrace(grace).streamsProperties(java.net.URI.create("http://localhost:1"));
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "enforcer-test");
        props.putAll(overrides);
        driver = new TopologyTestDriver(EnforcerTopology.build(grace), props);
        plans = input(EnforcerTopics.PLANS);
        summaries = input(Topics.USAGE_SUMMARIES);
        commands = input(Topics.ADMIN_COMMANDS);
        referrals = input(Topics.REFERRALS);
        limitEvents = driver.createOutputTopic(Topics.LIMIT_EVENTS.name(),
                Topics.LIMIT_EVENTS.keySerde().deserializer(), Topics.LIMIT_EVENTS.valueSerde().deserializer());
        for (Plan plan : List.of(new Plan("free", 1000), new Plan("pro", 50_000), new Plan("team", 250_000),
                new Plan("tiny", 100))) {
            plans.pipeInput(plan.plan(), plan);
        }
    }

    private <K, V> TestInputTopic<K, V> input(io.usagemeter.schema.topics.Topic<K, V> topic) {
        return driver.createInputTopic(topic.name(), topic.keySerde().serializer(), topic.valueSerde().serializer());
    }

    static Instant day(YearMonth month, int day) {
        return month.atDay(day).atStartOfDay().toInstant(ZoneOffset.UTC);
    }

    void usage(UUID user, YearMonth month, long units, Instant at) {
        MonthlySummary s = new MonthlySummary(user, month, units, units, units, 0, 0, 0, 0, 0, 0,
                units == 0 ? null : at, units == 0 ? null : at, units == 0 ? Map.of() : Map.of(Provider.OPENAI, units));
        summaries.pipeInput(s.key(), s, at);
    }

    void usage(UUID user, long units) {
        usage(user, JAN, units, day(JAN, 10));
    }

    void command(AdminCommand command) {
        commands.pipeInput(command.userId().toString(), command, command.issuedAt());
    }

    String addCredits(UUID user, long amount) {
        String id = "credits-" + (++sequence);
        command(new AdminCommand.AddBonusCredits(id, user, amount, day(JAN, 11), "admin@example.com"));
        return id;
    }

    void setPlan(UUID user, String plan) {
        command(new AdminCommand.SetPlan("plan-" + (++sequence), user, plan, day(JAN, 12), "admin@example.com"));
    }

    void referral(String id, UUID referrer, UUID referred, ReferralStatus status) {
        Instant at = day(JAN, 5);
        referrals.pipeInput(referred.toString(), new ReferralEvent(id, referrer, referred, status, at), at);
    }

    void completedReferrals(UUID referrer, int count) {
        for (int i = 0; i < count; i++) {
            referral("ref-" + referrer + "-" + i, referrer, UUID.randomUUID(), ReferralStatus.COMPLETED);
        }
    }

    LimitState limit(UUID user) {
        KeyValueStore<String, LimitState> store = driver.getKeyValueStore(EnforcerTopology.LIMITS_STORE);
        return store.get(user.toString());
    }

    ReferralRefusal refusal(String referralId) {
        KeyValueStore<String, ReferralRefusal> store = driver.getKeyValueStore(EnforcerTopology.REFERRAL_REFUSALS_STORE);
        return store.get(referralId);
    }

    MonthlySummary storedUsage(UUID user, YearMonth month) {
        KeyValueStore<MonthlySummaryKey, MonthlySummary> store = driver.getKeyValueStore(EnforcerTopology.USAGE_STORE);
        return store.get(new MonthlySummaryKey(user, month));
    }

    @Override
    public void close() {
        driver.close();
    }
}
