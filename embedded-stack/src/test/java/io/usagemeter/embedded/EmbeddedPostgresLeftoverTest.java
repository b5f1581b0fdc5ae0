package io.usagemeter.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A PostgreSQL that outlived the JVM that started it is found by its data directory and stopped. */
class EmbeddedPostgresLeftoverTest {

    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

    @Test
    void aServerStillRunningFromTheDirectoryIsStoppedAndTheDataKept(@TempDir Path dir) throws Exception {
        Path dataDir = dir.resolve("pg");
        EmbeddedPostgresServer orphan = EmbeddedPostgresServer.start(dataDir, 0);
        int port = orphan.port();
        try (Connection c = orphan.dataSource("postgres").getConnection()) {
            c.createStatement().execute("CREATE TABLE kept (id int)");
            c.createStatement().execute("INSERT INTO kept VALUES (7)");
        }
        long pid = Long.parseLong(Files.readAllLines(dataDir.resolve("postmaster.pid")).get(0).strip());
        // Its owner is gone as far as the server can tell: nothing stops it but the next start.

        OptionalLong stopped = EmbeddedPostgresServer.stopLeftover(dataDir, STOP_TIMEOUT);

        assertThat(stopped).hasValue(pid);
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(java.util.Optional.of(true));
        assertThat(listening(port)).as("port " + port + " released").isFalse();
        assertThat(EmbeddedPostgresServer.stopLeftover(dataDir, STOP_TIMEOUT)).as("nothing left the second time").isEmpty();
        // A new JVM would hold no lock on the directory; this one still does through the orphan's handle.
        releaseQuietly(orphan);
        try (EmbeddedPostgresServer again = EmbeddedPostgresServer.start(dataDir, port);
             Connection c = again.dataSource("postgres").getConnection();
             ResultSet rs = c.createStatement().executeQuery("SELECT id FROM kept")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getInt(1)).isEqualTo(7);
        }
    }

    @Test
    void aPidFileNamingADeadOrForeignProcessIsLeftAlone(@TempDir Path dir) throws Exception {
        Path dataDir = Files.createDirectories(dir.resolve("pg"));
        Path pidFile = dataDir.resolve("postmaster.pid");

        Files.writeString(pidFile, "999999999\n" + dataDir + "\n");
        assertThat(EmbeddedPostgresServer.stopLeftover(dataDir, STOP_TIMEOUT)).isEmpty();

        // A live process that is not a postgres: this JVM.
        long self = ProcessHandle.current().pid();
        Files.writeString(pidFile, self + "\n" + dataDir + "\n");
        assertThat(EmbeddedPostgresServer.stopLeftover(dataDir, STOP_TIMEOUT)).isEmpty();
        assertThat(ProcessHandle.current().isAlive()).isTrue();
    }

    @Test
    void aServerOfAnotherDirectoryIsNotStopped(@TempDir Path dir) throws Exception {
        try (EmbeddedPostgresServer other = EmbeddedPostgresServer.start(dir.resolve("other"), 0)) {
            String otherPid = Files.readAllLines(dir.resolve("other").resolve("postmaster.pid")).get(0).strip();
            Path mine = Files.createDirectories(dir.resolve("mine"));
            // A pid file copied from elsewhere: the live postgres it names serves another directory.
            Files.writeString(mine.resolve("postmaster.pid"), otherPid + "\n" + dir.resolve("other") + "\n");

            assertThat(EmbeddedPostgresServer.stopLeftover(mine, STOP_TIMEOUT)).isEmpty();
            assertThat(listening(other.port())).isTrue();
        }
    }

    private static void releaseQuietly(EmbeddedPostgresServer server) {
        try {
            server.close();
        } catch (RuntimeException alreadyStopped) {
            // its server is gone already; only its lock on the directory mattered
        }
    }

    private static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("localhost", port), 1000);
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
