package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.db.EntitlementEffectsWriter;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.topics.Topics;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Referral and admin effects reach PostgreSQL once, with the consumed offsets in the same transaction. */
class EntitlementEffectsWriterIT {

    private static TestStack stack;

    @BeforeAll
    static void start() {
        stack = new TestStack();
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    private void send(String topic, String key, Object value) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.bootstrap);
        try (var producer = new KafkaProducer<String, byte[]>(p, new StringSerializer(),
                new org.apache.kafka.common.serialization.ByteArraySerializer())) {
            byte[] bytes = topic.equals(Topics.REFERRALS.name())
                    ? Topics.REFERRALS.valueSerde().serializer().serialize(topic, (ReferralEvent) value)
                    : Topics.ADMIN_COMMANDS.valueSerde().serializer().serialize(topic, (AdminCommand) value);
            producer.send(new ProducerRecord<>(topic, key, bytes)).get();
        }
    }

    private long bonusCredits(UUID user) {
        Long v = stack.dsl.fetchValue("SELECT bonus_credits FROM users WHERE id = ?", user) instanceof Long l ? l : null;
        return v == null ? -1 : v;
    }

    @Test
    void effectsApplyOnceAcrossARestart() throws Exception {
        UUID referrer = UUID.randomUUID();
        UUID referred = UUID.randomUUID();
        TestMonth time = TestMonth.current();
        Instant now = time.now();
        YearMonth month = time.month();
        String sink = "writer-it-" + UUID.randomUUID();

        send(Topics.REFERRALS.name(), referred.toString(),
                new ReferralEvent("wr-" + referred, referrer, referred, ReferralStatus.COMPLETED, now));
        send(Topics.REFERRALS.name(), referrer.toString(),
                new ReferralEvent("wr-self-" + referrer, referrer, referrer, ReferralStatus.COMPLETED, now));
        send(Topics.ADMIN_COMMANDS.name(), referrer.toString(),
                new AdminCommand.AddBonusCredits("wr-c1-" + referrer, referrer, 100, now, "it"));
        send(Topics.ADMIN_COMMANDS.name(), referrer.toString(),
                new AdminCommand.SetPlan("wr-c2-" + referrer, referrer, "pro", now, "it"));
        send(Topics.ADMIN_COMMANDS.name(), referrer.toString(),
                new AdminCommand.ResetUsage("wr-c3-" + referrer, referrer, month, now, now, "it"));

        try (EntitlementEffectsWriter writer = new EntitlementEffectsWriter(sink, stack.bootstrap, stack.dsl).start()) {
            await().atMost(Duration.ofSeconds(60)).until(() -> stack.dsl.fetchCount(
                    stack.dsl.selectFrom("usage_resets").where("command_id = ?", "wr-c3-" + referrer)) == 1);
            assertThat(writer.applied()).isGreaterThanOrEqualTo(5);
        }
        assertThat(bonusCredits(referrer)).isEqualTo(110);
        assertThat(stack.dsl.fetchValue("SELECT referral_count FROM users WHERE id = ?", referrer)).isEqualTo(1);
        assertThat(stack.dsl.fetchValue("SELECT plan FROM users WHERE id = ?", referrer)).isEqualTo("pro");
        assertThat(stack.dsl.fetchValue("SELECT result ->> 'reason' FROM applied_commands WHERE command_id = ?",
                "referral:wr-self-" + referrer)).isEqualTo("self_referral");
        long storedOffsets = stack.dsl.fetchCount(stack.dsl.selectFrom("sink_offsets").where("sink = ?", sink));
        assertThat(storedOffsets).isPositive();

        // Restarted: resumes after the stored offsets, so only the new command is applied.
        send(Topics.ADMIN_COMMANDS.name(), referrer.toString(),
                new AdminCommand.AddBonusCredits("wr-c4-" + referrer, referrer, 5, now, "it"));
        try (EntitlementEffectsWriter restarted = new EntitlementEffectsWriter(sink, stack.bootstrap, stack.dsl).start()) {
            await().atMost(Duration.ofSeconds(60)).until(() -> bonusCredits(referrer) == 115);
            assertThat(restarted.applied()).isEqualTo(1);
        }
        assertThat(stack.dsl.fetchCount(stack.dsl.selectFrom("applied_commands")
                .where("command_id LIKE ?", "wr-c%-" + referrer))).isEqualTo(4);
        assertThat(bonusCredits(referrer)).isEqualTo(115);
    }
}
