package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.usagemeter.embedded.TestMonth;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.json.Json;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two instances: one in this JVM, one in a child JVM that is killed with SIGKILL (no clean shutdown).
 * Every user is answered correctly from either instance; after the kill the survivor answers from its
 * standby copy (stale) and then, once it owns the partitions, fully.
 */
class EnforcerClusterIT {

    /** The one clock of the test and of both instances (the child gets it through {@link ClockedEnforcerMain}). */
    private static final TestMonth TIME = TestMonth.current();
    private static final YearMonth MONTH = TIME.month();
    private static final String APP_ID = "enforcer-cluster-it-" + UUID.randomUUID();

    @TempDir
    static Path dir;

    private static TestStack stack;
    private static EnforcerService local;
    private static Process remote;
    private static int remotePort;
    private static final Map<UUID, Long> USAGE = new HashMap<>();

    @BeforeAll
    static void start() throws Exception {
        stack = new TestStack();
        for (UUID user : TestStack.users(24)) {
            USAGE.put(user, 100L + USAGE.size() * 37);
        }
        stack.publishUsage(USAGE, MONTH);
        local = new EnforcerService(stack.config(APP_ID, dir.resolve("a")), stack.dsl, TIME.clock(), new Properties()).start();

        try (ServerSocket socket = new ServerSocket(0)) {
            remotePort = socket.getLocalPort();
        }
        ProcessBuilder pb = stack.enforcerProcess(TIME, APP_ID, remotePort, dir.resolve("b"));
        Path log = Path.of(System.getProperty("java.io.tmpdir"), "enforcer-cluster-remote.log");
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        remote = pb.start();
    }

    @AfterAll
    static void stop() {
        if (remote != null) {
            remote.destroyForcibly();
        }
        if (local != null) {
            local.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    /** The instance's answer, or null while it is not answering (not yet listening, or not ready). */
    private static LimitAnswer answer(int port, UUID user) throws Exception {
        HttpResponse<String> response;
        try {
            response = stack.get(port, "/v1/limits/" + user);
        } catch (ConnectException notListeningYet) {
            return null;
        }
        return response.statusCode() == 200 ? Json.read(response.body(), LimitAnswer.class) : null;
    }

    private static boolean remoteOwns(UUID user) {
        var meta = local.streams().queryMetadataForKey(EnforcerTopology.LIMITS_STORE, user.toString(), Serdes.String().serializer());
        return meta.activeHost().port() == remotePort;
    }

    @Test
    void everyUserIsAnsweredFromEitherInstanceAndSurvivesAKill() throws Exception {
        int localPort = local.port();
        // Both instances running and sharing the partitions: every user answered, fresh, from both.
        // The remote JVM may still be starting: its port refuses connections until then.
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
                .ignoreExceptionsInstanceOf(java.net.ConnectException.class).untilAsserted(() -> {
            assertThat(local.streams().state()).isEqualTo(KafkaStreams.State.RUNNING);
            for (var e : USAGE.entrySet()) {
                for (int port : new int[] {localPort, remotePort}) {
                    LimitAnswer a = answer(port, e.getKey());
                    assertThat(a).as("user %s on port %d", e.getKey(), port).isNotNull();
                    assertThat(a.used()).isEqualTo(e.getValue());
                    assertThat(a.stale()).isFalse();
                }
            }
        });
        List<UUID> remoteUsers = new ArrayList<>(USAGE.keySet().stream().filter(EnforcerClusterIT::remoteOwns).toList());
        assertThat(remoteUsers).as("the remote instance owns some users").isNotEmpty();
        assertThat(remoteUsers).as("the local instance owns some users").hasSizeLessThan(USAGE.size());
        // One instance answers from its store, the other forwards: the same answer, byte for byte.
        for (UUID user : USAGE.keySet()) {
            HttpResponse<byte[]> own = stack.getBytes(localPort, "/v1/limits/" + user);
            HttpResponse<byte[]> other = stack.getBytes(remotePort, "/v1/limits/" + user);
            assertThat(own.statusCode()).isEqualTo(200);
            assertThat(other.statusCode()).isEqualTo(200);
            assertThat(other.body()).as("user %s", user).isEqualTo(own.body());
        }

        remote.destroyForcibly().waitFor();

        // Until the group notices, the survivor answers the dead instance's users from its standby, flagged stale.
        UUID probe = remoteUsers.get(0);
        List<Boolean> staleSeen = new ArrayList<>();
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            LimitAnswer a = answer(localPort, probe);
            if (a != null) {
                assertThat(a.used()).isEqualTo(USAGE.get(probe)); // never a wrong value, stale or not
                staleSeen.add(a.stale());
            }
            assertThat(staleSeen).contains(true);
        });
        // Then it owns every partition and answers everyone fully.
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).untilAsserted(() -> {
            for (var e : USAGE.entrySet()) {
                LimitAnswer a = answer(localPort, e.getKey());
                assertThat(a).isNotNull();
                assertThat(a.used()).isEqualTo(e.getValue());
                assertThat(a.stale()).isFalse();
            }
        });
    }
}
