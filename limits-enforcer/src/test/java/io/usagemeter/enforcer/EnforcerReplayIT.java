package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.replay.ReplayJobs;
import io.usagemeter.aggregator.replay.Replayer;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.enforcer.http.AdminTokens;
import io.usagemeter.schema.events.ReplayStatus;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replay admin routes and the stale flag of limit checks while a month is rebuilt. */
class EnforcerReplayIT {

    private static final String SECRET = "replay-test-secret-of-at-least-32-bytes!!";
    private static final YearMonth MONTH = YearMonth.now(ZoneOffset.UTC);

    @TempDir
    static Path stateDir;

    private static TestStack stack;
    private static EnforcerService enforcer;
    private static String token;

    @BeforeAll
    static void start() {
        stack = new TestStack();
        EnforcerConfig config = stack.config("enforcer-replay-it", stateDir.resolve("enforcer"))
                .withAdminAuth(SECRET, null, Set.of("admin@example.com"));
        Replayer replayer = new Replayer(AggregatorConfig.defaults(stack.bootstrap, stateDir.resolve("aggregator")),
                stack.dsl, Clock.systemUTC(), stateDir.resolve("replays"), (short) 1);
        enforcer = new EnforcerService(config, stack.dsl, Clock.systemUTC(), new Properties(),
                new ReplayJobs(replayer, Clock.systemUTC())).start();
        await().atMost(Duration.ofSeconds(60))
                .until(() -> enforcer.streams().state() == org.apache.kafka.streams.KafkaStreams.State.RUNNING);
        token = AdminTokens.hs256(SECRET.getBytes(StandardCharsets.UTF_8), "admin@example.com", Duration.ofMinutes(10),
                Clock.systemUTC());
    }

    @AfterAll
    static void stop() {
        if (enforcer != null) {
            enforcer.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void checksOfAMonthBeingRebuiltAnswerStaleUntilTheReplayFinishes() throws Exception {
        UUID user = UUID.randomUUID();
        stack.publishUsage(Map.of(user, 10L), MONTH);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(limit(user).used()).isEqualTo(10));
        assertThat(limit(user).stale()).isFalse();

        Instant now = Instant.now();
        ReplayStatus running = new ReplayStatus("job-stale", MONTH, MONTH, ReplayStatus.State.RUNNING, now, now);
        announce(running);
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(limit(user).stale()).isTrue());
        assertThat(limit(user).used()).as("still answered from the store").isEqualTo(10);

        announce(running.finished(Instant.now()));
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(limit(user).stale()).isFalse());
    }

    @Test
    void replayJobsStartOverTheAdminApiAndReportProgressAndOutcome() throws Exception {
        HttpResponse<String> bad = post("{\"dry_run\": true}");
        assertThat(bad.statusCode()).isEqualTo(400);

        HttpResponse<String> started = post("{\"month\": \"" + MONTH + "\", \"dry_run\": true}");
        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        String jobId = Json.tree(started.body()).get("job_id").asText();

        JsonNode[] job = new JsonNode[1];
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            HttpResponse<String> r = stack.send(HttpRequest.newBuilder(uri("/v1/admin/replay/" + jobId))
                    .header("Authorization", "Bearer " + token).GET().build());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            job[0] = Json.tree(r.body());
            assertThat(job[0].get("state").asText()).isNotEqualTo("running");
        });
        assertThat(job[0].get("state").asText()).as(job[0].toString()).isEqualTo("succeeded");
        assertThat(job[0].at("/progress/records_read").asLong()).isEqualTo(job[0].at("/progress/records_total").asLong());
        assertThat(job[0].at("/report/dry_run").asBoolean()).isTrue();
        assertThat(job[0].at("/report/rows_repaired").asInt()).isZero();
        assertThat(job[0].at("/report/api_usage/rows_inserted").isNumber()).as(job[0].toString()).isTrue();
        assertThat(job[0].at("/report/api_usage/rows_kept_not_in_log").isNumber()).as(job[0].toString()).isTrue();

        assertThat(stack.send(HttpRequest.newBuilder(uri("/v1/admin/replay/nope"))
                .header("Authorization", "Bearer " + token).GET().build()).statusCode()).isEqualTo(404);
        assertThat(stack.send(HttpRequest.newBuilder(uri("/v1/admin/replay/" + jobId)).GET().build()).statusCode())
                .isEqualTo(401);
    }

    private static HttpResponse<String> post(String body) throws Exception {
        return stack.send(HttpRequest.newBuilder(uri("/v1/admin/replay")).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    private static URI uri(String path) {
        return URI.create("http://localhost:" + enforcer.port() + path);
    }

    private static LimitAnswer limit(UUID user) throws Exception {
        HttpResponse<String> response = stack.get(enforcer.port(), "/v1/limits/" + user);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return Json.read(response.body(), LimitAnswer.class);
    }

    private static void announce(ReplayStatus status) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", stack.bootstrap),
                new StringSerializer(), Topics.REPLAYS.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(Topics.REPLAYS.name(), status.jobId(), status)).get();
        }
    }
}
