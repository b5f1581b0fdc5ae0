package io.usagemeter.cli.dev;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DevDataDirTest {

    @Test
    void aSecondOpenWhileHeldIsRefusedNamingTheOwnerPid(@TempDir Path dir) {
        try (DevDataDir held = DevDataDir.open(dir, false)) {
            assertThatThrownBy(() -> DevDataDir.open(dir, false))
                    .isInstanceOf(DevStackException.class)
                    .hasMessageContaining("is in use by another meter dev (pid " + ProcessHandle.current().pid() + ")");
        }
        // Released on close: opens again.
        DevDataDir.open(dir, false).close();
    }

    @Test
    void dataOfAnotherLayoutIsRefusedAndFreshWipesIt(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("VERSION"), "0\n");
        Files.writeString(dir.resolve("old-data"), "x");
        assertThatThrownBy(() -> DevDataDir.open(dir, false))
                .isInstanceOf(DevStackException.class)
                .hasMessageContaining("layout version 0, this meter uses " + DevDataDir.LAYOUT_VERSION)
                .hasMessageContaining("--fresh");
        try (DevDataDir fresh = DevDataDir.open(dir, true)) {
            assertThat(dir.resolve("old-data")).doesNotExist();
            assertThat(Files.readString(dir.resolve("VERSION")).strip()).isEqualTo(Integer.toString(DevDataDir.LAYOUT_VERSION));
        }
    }

    @Test
    void dataWithTheAggregatorsPerEventStateSaysSoInOneLine(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("VERSION"), "1\n");
        Files.createDirectories(dir.resolve("streams"));
        assertThatThrownBy(() -> DevDataDir.open(dir, false))
                .isInstanceOf(DevStackException.class)
                .hasMessageContaining("per-event state (layout 1)")
                .hasMessageContaining("--fresh")
                .hasMessageContaining("rewind-aggregator")
                .message().doesNotContain("\n");
    }

    @Test
    void eachDemoRunOnADataDirectoryIsCountedAcrossOpensAndFreshStartsAgain(@TempDir Path dir) {
        try (DevDataDir data = DevDataDir.open(dir, false)) {
            assertThat(data.startDemoRun()).isZero();
            assertThat(data.startDemoRun()).isEqualTo(1);
        }
        try (DevDataDir data = DevDataDir.open(dir, false)) {
            assertThat(data.startDemoRun()).isEqualTo(2);
        }
        try (DevDataDir data = DevDataDir.open(dir, true)) {
            assertThat(data.startDemoRun()).isZero();
        }
    }

    @Test
    void aDemoRerunHasOtherUsersAndEventIds() {
        DemoTraffic.Endpoints nowhere = new DemoTraffic.Endpoints(URI.create("http://localhost:1"),
                URI.create("http://localhost:1"), "key", "token");
        List<UUID> first = new DemoTraffic(DemoTraffic.Settings.forRun(0), nowhere, Clock.systemUTC()).users();
        List<UUID> second = new DemoTraffic(DemoTraffic.Settings.forRun(1), nowhere, Clock.systemUTC()).users();
        assertThat(DemoTraffic.Settings.forRun(0)).isEqualTo(DemoTraffic.Settings.defaults());
        assertThat(second).hasSameSizeAs(first).doesNotContainAnyElementsOf(first);
    }

    @Test
    void unstampedDataIsRefused(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("postgres"));
        assertThatThrownBy(() -> DevDataDir.open(dir, false))
                .isInstanceOf(DevStackException.class)
                .hasMessageContaining("no VERSION stamp");
    }

    @Test
    void secretsAreOwnerOnlyAndKeptAcrossLoads(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("secrets.properties");
        DevSecrets first = DevSecrets.loadOrCreate(file);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        first.withApiKey("um_example").save(file);
        DevSecrets again = DevSecrets.loadOrCreate(file);
        assertThat(again.meterPassword()).isEqualTo(first.meterPassword()).hasSize(32);
        assertThat(again.adminJwtSecret()).isEqualTo(first.adminJwtSecret());
        assertThat(again.apiKey()).isEqualTo("um_example");
        assertThat(again.toString()).doesNotContain(first.meterPassword());
    }

    @Test
    void theDevAdminTokenLivesOneDayAndPassesTheEnforcersChecks() throws Exception {
        java.time.Instant now = java.time.Instant.parse("2026-12-05T10:00:00Z");
        String token = new AdminTokens("a".repeat(64), Clock.fixed(now, java.time.ZoneOffset.UTC))
                .issue(AdminTokens.DEV_ADMIN_EMAIL);
        var claims = com.nimbusds.jwt.SignedJWT.parse(token).getJWTClaimsSet();
        assertThat(claims.getExpirationTime().toInstant()).isEqualTo(now.plus(java.time.Duration.ofHours(24)));
        var enforcer = io.usagemeter.kit.auth.AdminAuthenticator.hs256("a".repeat(64).getBytes(
                java.nio.charset.StandardCharsets.UTF_8), java.util.Set.of(AdminTokens.DEV_ADMIN_EMAIL),
                Clock.fixed(now.plusSeconds(3600), java.time.ZoneOffset.UTC));
        assertThat(enforcer.authenticate("Bearer " + token).email()).isEqualTo(AdminTokens.DEV_ADMIN_EMAIL);
    }

    @Test
    void aPortInUseIsNamedWithWhatWantedIt() throws Exception {
        try (ServerSocket taken = new ServerSocket(0)) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> DevPorts.requireFree(List.of(new DevPorts.Use(port, "PostgreSQL"))))
                    .isInstanceOf(DevStackException.class)
                    .hasMessage("port " + port + " (PostgreSQL) is in use: stop what listens there, or move the whole"
                            + " stack with --port-base (e.g. --port-base 7500)");
        }
    }

    @Test
    void devEnvQuotesValuesForTheShell() {
        assertThat(DevEnvironment.shellQuote("it's $HOME")).isEqualTo("'it'\\''s $HOME'");
    }
}
