package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.embedded.SharedEmbeddedKafka;
import io.usagemeter.enforcer.db.EntitlementEffectsWriter;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The enforcer's PostgreSQL writer never stops for the database: it survives an outage (showing it in
 * its health), and a command PostgreSQL refuses is parked in the dead-letter topic while the others apply.
 */
class EntitlementEffectsWriterOutageIT {

    @TempDir
    static Path dataDir;
    private static int port;
    private static EmbeddedPostgresServer server;
    private static DSLContext dsl;
    private static String bootstrap;

    @BeforeAll
    static void start() throws Exception {
        io.usagemeter.embedded.TestStack.requireEmbedded("it stops PostgreSQL and starts it again on the same port and data");
        bootstrap = SharedEmbeddedKafka.bootstrapServers();
        try (ServerSocket socket = new ServerSocket(0)) {
            port = socket.getLocalPort();
        }
        server = EmbeddedPostgresServer.start(dataDir, port);
        server.createDatabase("meter");
        // Bound to the port, not to the server object: it reaches the restarted server too.
        DataSource dataSource = server.dataSource("meter");
        FlywayMigrations.flyway(dataSource).migrate();
        dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
        }
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
    }

    private static void send(AdminCommand command) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (var producer = new KafkaProducer<>(p, new StringSerializer(), Topics.ADMIN_COMMANDS.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), command.userId().toString(), command)).get();
        }
    }

    private static long bonusCredits(UUID user) {
        try {
            Object v = dsl.fetchValue("SELECT bonus_credits FROM users WHERE id = ?", user);
            return v instanceof Long l ? l : -1;
        } catch (RuntimeException e) {
            return -2; // the database is down
        }
    }

    private static EntitlementEffectsWriter writer(String sink) {
        return new EntitlementEffectsWriter(sink, bootstrap, dsl, ResetHorizon.DEFAULT, Topics.DEAD_LETTER.name(),
                Clock.systemUTC()).start();
    }

    @Test
    void postgresStoppedFor30SecondsThenStartedTheWriterShowedItAndResumes() throws Exception {
        UUID user = UUID.randomUUID();
        Instant now = Instant.now();
        try (EntitlementEffectsWriter writer = writer("writer-outage-" + UUID.randomUUID())) {
            send(new AdminCommand.AddBonusCredits("outage-1-" + user, user, 10, now, "it"));
            await().atMost(Duration.ofSeconds(60)).until(() -> bonusCredits(user) == 10);
            assertThat(writer.healthy()).isTrue();

            server.close();
            send(new AdminCommand.AddBonusCredits("outage-2-" + user, user, 5, now, "it"));
            await().atMost(Duration.ofSeconds(20)).until(() -> !writer.healthy());
            assertThat(writer.lastError()).get().asString().isNotBlank();
            Thread.sleep(30_000);
            assertThat(writer.healthy()).isFalse();
            assertThat(writer.isRunning()).isTrue();

            server = EmbeddedPostgresServer.start(dataDir, port);
            await().atMost(Duration.ofSeconds(60)).until(() -> bonusCredits(user) == 15);
            await().atMost(Duration.ofSeconds(10)).until(writer::healthy);
            assertThat(writer.lastError()).isEmpty();
        }
        assertThat(dsl.fetchCount(dsl.selectFrom("applied_commands").where("command_id LIKE ?", "outage-%-" + user)))
                .isEqualTo(2);
    }

    @Test
    void aCommandPostgresRefusesIsADeadLetterAndTheOthersApplyOnce() throws Exception {
        UUID user = UUID.randomUUID();
        Instant now = Instant.now();
        String reused = "reused-" + user;
        send(new AdminCommand.AddBonusCredits(reused, user, 7, now, "it"));
        // The same command id as another kind of command: applied_command_result raises unique_violation.
        send(new AdminCommand.SetPlan(reused, user, "pro", now, "it"));
        send(new AdminCommand.AddBonusCredits("after-" + user, user, 3, now, "it"));
        // A reset outside the horizon: the aggregator refuses it, so PostgreSQL must not record it either.
        send(new AdminCommand.ResetUsage("old-reset-" + user, user, YearMonth.of(2020, 1), now, now, "it"));
        send(new AdminCommand.ResetUsage("this-month-" + user, user, YearMonth.from(now.atOffset(ZoneOffset.UTC)), now,
                now, "it"));

        try (EntitlementEffectsWriter writer = writer("writer-refused-" + UUID.randomUUID())) {
            await().atMost(Duration.ofSeconds(60)).until(() -> dsl.fetchCount(
                    dsl.selectFrom("usage_resets").where("command_id = ?", "this-month-" + user)) == 1);
            assertThat(writer.deadLettered()).isPositive();
            assertThat(writer.healthy()).isTrue();
        }
        assertThat(bonusCredits(user)).isEqualTo(10);
        assertThat(dsl.fetchValue("SELECT plan FROM users WHERE id = ?", user)).isEqualTo("free");
        assertThat(dsl.fetchCount(dsl.selectFrom("usage_resets").where("command_id = ?", "old-reset-" + user))).isZero();
        assertThat(deadLetterReasons()).anySatisfy(reason -> assertThat(reason)
                .contains("PostgreSQL refused").contains("23505").contains(reused));
    }

    private static List<String> deadLetterReasons() {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.GROUP_ID_CONFIG, "dead-letters-" + UUID.randomUUID());
        List<String> reasons = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(Topics.DEAD_LETTER.name()));
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    DeadLetter letter = Topics.DEAD_LETTER.valueSerde().deserializer().deserialize(r.topic(), r.value());
                    reasons.add(letter.reason());
                }
            }
        }
        return reasons;
    }
}
