package io.usagemeter.cli.dev;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The dev stack's data directory ({@code .meter/} by default): Kafka logs, PostgreSQL data,
 * Kafka Streams state, generated secrets and {@code dev.env}.
 *
 * <p>Held by one running stack at a time: {@code meter.lock} holds the owner's PID under an
 * OS file lock ({@link FileChannel#tryLock()}), released by the OS even if the process is killed.
 * {@code VERSION} stamps the layout, so a later build that lays data out differently refuses old
 * data instead of misreading it.
 */
public final class DevDataDir implements AutoCloseable {

    /**
     * Bump when the layout or the meaning of the files changes incompatibly. 2: the aggregator keeps its
     * state per user and month plus one dedupe window (version 1 kept every event of three months).
     */
    public static final int LAYOUT_VERSION = 2;
    static final String LOCK_FILE = "meter.lock";
    static final String VERSION_FILE = "VERSION";
    static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private final Path root;
    private final FileChannel lockChannel;
    private final FileLock lock;

    private DevDataDir(Path root, FileChannel lockChannel, FileLock lock) {
        this.root = root;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * Locks {@code root} for this process, wipes it when {@code fresh}, and checks or writes its
     * layout stamp.
     *
     * @throws DevStackException when another process holds it or its data is from another layout
     */
    public static DevDataDir open(Path root, boolean fresh) {
        Path dir = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new DevStackException("cannot create the data directory " + dir + ": " + e.getMessage(), e);
        }
        DevDataDir dataDir = lock(dir);
        try {
            if (fresh) {
                dataDir.wipe();
            }
            dataDir.checkLayout();
            return dataDir;
        } catch (RuntimeException e) {
            dataDir.close();
            throw e;
        }
    }

    private static DevDataDir lock(Path dir) {
        Path lockFile = dir.resolve(LOCK_FILE);
        FileChannel channel = null;
        try {
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException sameProcess) {
                lock = null;
            }
            if (lock == null) {
                String owner = Files.readString(lockFile, StandardCharsets.UTF_8).strip();
                channel.close();
                throw new DevStackException("data directory " + dir + " is in use by another meter dev"
                        + (owner.isEmpty() ? "" : " (pid " + owner + ")")
                        + ": stop it first, or start a second stack with --data DIR --port-base N");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(false);
            return new DevDataDir(dir, channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new DevStackException("cannot lock the data directory " + dir + ": " + e.getMessage(), e);
        }
    }

    private void wipe() {
        try (Stream<Path> children = Files.list(root)) {
            for (Path child : children.toList()) {
                if (!child.getFileName().toString().equals(LOCK_FILE)) {
                    deleteRecursively(child);
                }
            }
        } catch (IOException e) {
            throw new DevStackException("cannot wipe " + root + " for --fresh: " + e.getMessage(), e);
        }
    }

    private void checkLayout() {
        Path stamp = root.resolve(VERSION_FILE);
        try {
            if (Files.exists(stamp)) {
                String text = Files.readString(stamp, StandardCharsets.UTF_8).strip();
                if (text.equals("1")) {
                    throw new DevStackException("data in " + root + " has the aggregator's per-event state (layout 1), this"
                            + " meter keeps it per user and month (layout " + LAYOUT_VERSION + "): start with --fresh to"
                            + " wipe it, or use another --data DIR (a deployment rebuilds it with meter admin"
                            + " rewind-aggregator, see docs/architecture.md)");
                }
                if (!text.equals(Integer.toString(LAYOUT_VERSION))) {
                    throw new DevStackException("data in " + root + " has layout version " + text + ", this meter uses "
                            + LAYOUT_VERSION + ": start with --fresh to wipe it (everything in it is lost), or use"
                            + " another --data DIR");
                }
                return;
            }
            boolean hasOtherData;
            try (Stream<Path> children = Files.list(root)) {
                hasOtherData = children.anyMatch(p -> !p.getFileName().toString().equals(LOCK_FILE));
            }
            if (hasOtherData) {
                throw new DevStackException("data in " + root + " was not written by meter dev (no " + VERSION_FILE
                        + " stamp): start with --fresh to wipe it (everything in it is lost), or use another --data DIR");
            }
            Files.writeString(stamp, LAYOUT_VERSION + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new DevStackException("cannot read or write " + stamp + ": " + e.getMessage(), e);
        }
    }

    public Path root() {
        return root;
    }

    public Path kafka() {
        return root.resolve("kafka");
    }

    public Path postgres() {
        return root.resolve("postgres");
    }

    /** Kafka Streams state of one service. */
    public Path streamsState(String service) {
        return root.resolve("streams").resolve(service);
    }

    public Path secrets() {
        return root.resolve("secrets.properties");
    }

    public Path devEnv() {
        return root.resolve("dev.env");
    }

    /**
     * Counts a demo run started on this data directory and returns how many ran here before it. A demo's users
     * and event ids follow from its seed: a second run with the first one's seed would send the same event ids
     * again, days later in event time, which the window counts again and {@code meter reconcile} reports.
     */
    public int startDemoRun() {
        Path runs = root.resolve("demo-runs");
        try {
            int before = Files.exists(runs) ? Integer.parseInt(Files.readString(runs, StandardCharsets.UTF_8).strip()) : 0;
            Files.writeString(runs, (before + 1) + "\n", StandardCharsets.UTF_8);
            return before;
        } catch (IOException | NumberFormatException e) {
            throw new DevStackException("cannot read or write " + runs + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code text} to {@code file} readable by the owner only, created with that mode (never briefly wider). */
    static void writeOwnerOnly(Path file, String text) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /** Releases the lock; the lock file stays (a PID in it means nothing without the lock). */
    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lockChannel.truncate(0);
                lock.release();
            }
        } catch (IOException e) {
            // The OS drops the lock with the process anyway.
        } finally {
            closeQuietly(lockChannel);
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing left to release
            }
        }
    }

    private static void deleteRecursively(Path path) throws IOException {
        try (Stream<Path> paths = Files.walk(path)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
