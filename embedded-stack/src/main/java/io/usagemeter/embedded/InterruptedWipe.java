package io.usagemeter.embedded;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * For tests of Kafka Streams apps: leaves a state directory as a process killed while Kafka Streams
 * wiped its stores leaves it, RocksDB files without their {@code MANIFEST}, which Kafka Streams
 * cannot open at start.
 */
public final class InterruptedWipe {

    private InterruptedWipe() {
    }

    /**
     * Deletes every RocksDB {@code MANIFEST-*} file under {@code stateDir}.
     *
     * @return the files deleted
     * @throws IllegalStateException when there is none (the app kept no state there: the test would prove nothing)
     */
    public static List<Path> apply(Path stateDir) throws IOException {
        List<Path> manifests;
        try (Stream<Path> files = Files.walk(stateDir)) {
            manifests = files.filter(f -> f.getFileName().toString().startsWith("MANIFEST-")).toList();
        }
        if (manifests.isEmpty()) {
            throw new IllegalStateException("no RocksDB MANIFEST under " + stateDir);
        }
        for (Path manifest : manifests) {
            Files.delete(manifest);
        }
        return manifests;
    }
}
