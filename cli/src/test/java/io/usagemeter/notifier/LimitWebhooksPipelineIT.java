package io.usagemeter.notifier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.utils.Utils;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The enforcer and the notifier together: monthly summaries in (as the aggregator writes them),
 * signed webhooks out. Plan {@code free} has 1000 units.
 */
class LimitWebhooksPipelineIT {

    private static final String DATABASE = "notifier_pipeline";
    /** The one clock of the test and the enforcer: the month of the summaries is the enforcer's month. */
    private static final TestMonth TIME = TestMonth.current();

    @TempDir
    Path stateDir;

    @Test
    void crossingsResolutionAndRearmingReachTheReceiverOnceEachInOrder() throws Exception {
        try (NotifierTestSupport stack = new NotifierTestSupport(DATABASE);
             EnforcerService enforcer = new EnforcerService(EnforcerConfig.defaults(stack.bootstrap, stateDir,
                     stack.postgres.jdbcUrl(DATABASE), stack.postgres.user(), stack.postgres.password())
                     .withApplicationId("pipeline-" + UUID.randomUUID()),
                     DSL.using(stack.postgres.dataSource(DATABASE), SQLDialect.POSTGRES), TIME.clock(), new Properties()).start();
             NotifierService notifier = new NotifierService(
                     stack.config(DATABASE, "pipeline-" + UUID.randomUUID(), "200ms,200ms", true),
                     stack.postgres.dataSource(DATABASE), null, Clock.systemUTC()).start();
             Receiver receiver = Receiver.answering(200)) {
            await().atMost(Duration.ofSeconds(90)).until(() -> stack.api(enforcer.port(), "GET", "/health/ready", null)
                    .statusCode() == 200);
            JsonNode endpoint = stack.register(notifier.port(), receiver.url(),
                    "limit.warning", "limit.exceeded", "limit.resolved");
            String secret = endpoint.get("secret").asText();
            UUID user = UUID.randomUUID();

            // 80 % and 100 %, each crossed with summaries on both sides and repeated; then a reset (the
            // aggregator answers it with the month recounted from zero) and 80 % crossed again.
            publishUsage(stack.bootstrap, user, 500, 800, 900, 1000, 1200, 1200, 0, 300, 850, 900);

            // The broker is shared with the module's other tests, and this enforcer reads the summaries topic
            // from its start: the endpoint also hears of other tests' users. This test's user is the one counted.
            await().atMost(Duration.ofSeconds(60)).until(() -> bodiesFor(receiver, user).size() >= 4);
            Thread.sleep(2000); // room for a duplicate to show up, were there one
            List<JsonNode> bodies = bodiesFor(receiver, user);
            assertThat(bodies).extracting(b -> b.get("type").asText() + " " + b.get("data").get("used").asLong() + " "
                    + b.get("data").get("state").asText())
                    .containsExactly("limit.warning 800 warning", "limit.exceeded 1000 exceeded", "limit.resolved 0 ok",
                            "limit.warning 850 warning");
            assertThat(receiver.received).allMatch(r -> r.signedWith(secret));
            assertThat(receiver.received).extracting(Receiver.Received::webhookId).doesNotHaveDuplicates();
        }
    }

    private static List<JsonNode> bodiesFor(Receiver receiver, UUID user) {
        return List.copyOf(receiver.received).stream().map(r -> {
            try {
                return Json.tree(r.body());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }).filter(b -> b.get("data").get("user_id").asText().equals(user.toString())).toList();
    }

    /** One summary per value, in order, keyed and partitioned as the aggregator writes them. */
    private static void publishUsage(String bootstrap, UUID user, long... units) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        YearMonth month = TIME.month();
        try (var producer = new KafkaProducer<>(p, Topics.USAGE_SUMMARIES.keySerde().serializer(),
                Topics.USAGE_SUMMARIES.valueSerde().serializer())) {
            for (long u : units) {
                Instant at = TIME.now();
                MonthlySummary s = new MonthlySummary(user, month, u, u, u, 0, 0, 0, 0, 0, 0,
                        u == 0 ? null : at, u == 0 ? null : at, u == 0 ? Map.of() : Map.of(Provider.OPENAI, u));
                int partition = Utils.toPositive(Utils.murmur2(user.toString().getBytes(StandardCharsets.UTF_8)))
                        % TopicSettings.DEFAULT_PARTITIONS;
                producer.send(new ProducerRecord<>(Topics.USAGE_SUMMARIES.name(), partition, at.toEpochMilli(), s.key(), s))
                        .get(30, TimeUnit.SECONDS);
            }
        }
    }
}
