package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestMonth;
import io.usagemeter.kit.HttpLimits;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Readiness that tells the truth over restarts, and shedding past the in-flight bound. */
class EnforcerBoundsIT {

    private static final int RESTARTS = 20;
    /** The one clock of the test and its services; the month is the clock's, however long the run. */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();

    @TempDir
    static Path stateDir;

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

    /**
     * Over {@value #RESTARTS} restarts on the same state, a limit check sent right after {@code /health/ready}
     * first answers 200 is never a 503.
     */
    @Test
    void aLimitCheckRightAfterTheFirstReadyIsAnswered() throws Exception {
        UUID user = UUID.randomUUID();
        stack.publishUsage(Map.of(user, 420L), MONTH);
        EnforcerConfig config = stack.config("enforcer-readiness-it", stateDir.resolve("restarts"));
        List<Long> readyMillis = new ArrayList<>();
        for (int restart = 0; restart < RESTARTS; restart++) {
            long started = System.nanoTime();
            try (EnforcerService enforcer = new EnforcerService(config, stack.dsl, TIME.clock(), new Properties())
                    .start()) {
                long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                while (stack.get(enforcer.port(), "/health/ready").statusCode() != 200) {
                    assertThat(System.nanoTime()).as("ready within 90 s (restart %d)", restart).isLessThan(deadline);
                    Thread.sleep(10);
                }
                readyMillis.add(Duration.ofNanos(System.nanoTime() - started).toMillis());
                HttpResponse<String> check = stack.get(enforcer.port(), "/v1/limits/" + user);
                assertThat(check.statusCode()).as("restart %d: %s", restart, check.body()).isEqualTo(200);
                if (restart == 0 || Json.tree(check.body()).get("used").asLong() != 420) {
                    // The first start may be ready before the summary arrived; after it, the restored store has it.
                    assertThat(restart).as("restored state answers from the first restart on: %s", check.body()).isZero();
                }
            }
        }
        System.out.println("enforcer ready after (ms) per start: " + readyMillis);
    }

    /** Far more concurrent checks than the bound: each is answered 200, or 503 with Retry-After; then all is well. */
    @Test
    void pastTheInFlightBoundChecksAreShedAndTheEnforcerRecovers() throws Exception {
        UUID user = UUID.randomUUID();
        EnforcerConfig config = stack.config("enforcer-overload-it", stateDir.resolve("overload"))
                .withHttpLimits(HttpLimits.defaults().withMaxInFlight(2).withMaxConnections(64));
        try (EnforcerService enforcer = new EnforcerService(config, stack.dsl, TIME.clock(), new Properties()).start()) {
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (stack.get(enforcer.port(), "/health/ready").statusCode() != 200) {
                assertThat(System.nanoTime()).isLessThan(deadline);
                Thread.sleep(20);
            }
            HttpClient client = HttpClient.newBuilder().build();
            int ok = 0;
            int shed = 0;
            for (int round = 0; round < 5; round++) {
                List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
                for (int i = 0; i < 40; i++) {
                    answers.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://localhost:" + enforcer.port()
                                    + "/v1/limits/" + user)).header("Authorization", "Bearer " + stack.readKey).GET().build(),
                            HttpResponse.BodyHandlers.ofString()));
                }
                for (CompletableFuture<HttpResponse<String>> answer : answers) {
                    HttpResponse<String> response = answer.get();
                    if (response.statusCode() == 200) {
                        ok++;
                    } else {
                        assertThat(response.statusCode()).as(response.body()).isEqualTo(503);
                        assertThat(response.headers().firstValue("Retry-After")).isPresent();
                        shed++;
                    }
                }
            }
            System.out.printf("enforcer overload: %d answered, %d shed (bound 2 in flight)%n", ok, shed);
            assertThat(ok).isPositive();
            assertThat(stack.get(enforcer.port(), "/health/ready").statusCode()).isEqualTo(200);
            assertThat(stack.get(enforcer.port(), "/v1/limits/" + user).statusCode()).isEqualTo(200);
        }
    }
}
