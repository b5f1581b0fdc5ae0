package io.usagemeter.enforcer;

import static io.usagemeter.enforcer.EnforcerDriver.JAN;
import static io.usagemeter.enforcer.EnforcerDriver.day;
import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.topics.Topics;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No input stops the enforcer's stream thread (issue 13, case 3): a record it cannot take goes to the
 * dead-letter topic with the reason, and the next record of the same user is processed as usual.
 */
class EnforcerPoisonInputTest {

    @TempDir
    Path stateDir;

    private EnforcerDriver driver;
    private TestInputTopic<String, byte[]> rawCommands;
    private TestOutputTopic<byte[], byte[]> deadLetters;
    private final UUID user = UUID.randomUUID();

    @BeforeEach
    void start() {
        // Under exactly-once, TopologyTestDriver drops the dead letters of a deserialization failure (sent
        // outside its commit cycle, see the aggregator's driver); the embedded-broker suites run exactly-once.
        Properties atLeastOnce = new Properties();
        atLeastOnce.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        driver = new EnforcerDriver(BigDecimal.ZERO, stateDir, atLeastOnce);
        rawCommands = driver.driver.createInputTopic(Topics.ADMIN_COMMANDS.name(), new StringSerializer(),
                new ByteArraySerializer());
        deadLetters = driver.driver.createOutputTopic(Topics.DEAD_LETTER.name(), new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    private void rawCommand(String json) {
        rawCommands.pipeInput(user.toString(), json.getBytes(StandardCharsets.UTF_8), day(JAN, 11));
    }

    private List<DeadLetter> letters() {
        return deadLetters.readValuesToList().stream()
                .map(bytes -> Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(Topics.DEAD_LETTER.name(), bytes))
                .toList();
    }

    @Test
    void aCreditOfLongMaxValueProducedStraightToKafkaIsADeadLetterAndTheUserStillCounts() {
        driver.usage(user, 900);
        rawCommand("{\"type\":\"add_bonus_credits\",\"command_id\":\"huge-1\",\"user_id\":\"" + user
                + "\",\"amount\":9223372036854775807,\"issued_at\":\"2026-01-11T00:00:00Z\",\"issued_by\":\"x\"}");

        List<DeadLetter> letters = letters();
        assertThat(letters).singleElement().satisfies(letter -> {
            assertThat(letter.stage()).isEqualTo("enforcer.deserialization");
            assertThat(letter.topic()).isEqualTo(Topics.ADMIN_COMMANDS.name());
            assertThat(letter.reason()).contains("amount").contains(Long.toString(Bounds.MAX_CREDITS_PER_COMMAND));
        });
        // The thread lives on: the next summary and credit of the user count.
        driver.usage(user, 1200);
        driver.addCredits(user, 500);
        LimitState state = driver.limit(user);
        assertThat(state.bonusCredits()).isEqualTo(500);
        assertThat(state.effectiveLimit()).isEqualTo(1500);
        assertThat(state.used()).isEqualTo(1200);
        assertThat(state.state()).isEqualTo(LimitStatus.WARNING);
    }

    @Test
    void creditsAtTheLargestGrantSaturateAtTheTotalBoundAndTheLimitNeverWraps() {
        driver.usage(user, 5);
        // A million and one maximal grants would pass 10^15: the total stops there.
        for (int i = 0; i < 3; i++) {
            driver.addCredits(user, Bounds.MAX_CREDITS_PER_COMMAND);
        }
        assertThat(driver.limit(user).bonusCredits()).isEqualTo(3 * Bounds.MAX_CREDITS_PER_COMMAND);
        driver.plans.pipeInput("whale", new Plan("whale", Long.MAX_VALUE));
        driver.setPlan(user, "whale");
        LimitState state = driver.limit(user);
        assertThat(state.effectiveLimit()).isEqualTo(Long.MAX_VALUE);
        assertThat(state.remaining()).isEqualTo(Long.MAX_VALUE - 5);
        assertThat(state.state()).isEqualTo(LimitStatus.OK);
        assertThat(letters()).isEmpty();
    }

    @Test
    void aSummaryWithANegativeTotalIsADeadLetterAndLeavesTheLimitAsItWas() {
        driver.usage(user, 1200);
        MonthlySummary negative = new MonthlySummary(user, JAN, 2, -9_223_372_036_854_775_805L, 2, 0, 0, 0, 0, 0, 0,
                day(JAN, 10), day(JAN, 10), Map.of());
        driver.summaries.pipeInput(negative.key(), negative, day(JAN, 12));

        assertThat(letters()).singleElement().satisfies(letter -> {
            assertThat(letter.stage()).isEqualTo("enforcer.processing");
            assertThat(letter.reason()).contains("negative");
        });
        LimitState state = driver.limit(user);
        assertThat(state.used()).isEqualTo(1200);
        assertThat(state.state()).isEqualTo(LimitStatus.EXCEEDED);
        assertThat(state.allowed()).isFalse();
    }

    @Test
    void aCommandThatIsNotJsonIsADeadLetter() {
        rawCommand("{\"type\":\"set_plan\",\"command_id\":\"\u0000\",\"user_id\":\"" + user
                + "\",\"plan\":\"pro\",\"issued_at\":\"2026-01-11T00:00:00Z\",\"issued_by\":\"x\"}");
        rawCommand("not json");
        assertThat(letters()).hasSize(2).allSatisfy(letter -> assertThat(letter.stage()).isEqualTo("enforcer.deserialization"));
        driver.setPlan(user, "pro");
        driver.usage(user, 10);
        assertThat(driver.limit(user).plan()).isEqualTo("pro");
    }
}
