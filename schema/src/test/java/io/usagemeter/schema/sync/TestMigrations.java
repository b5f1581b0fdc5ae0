package io.usagemeter.schema.sync;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Copies test migration folders (src/test/resources/sync/...) into a directory a test may edit. */
final class TestMigrations {

    private TestMigrations() {}

    static Path copy(Path target, String... folders) {
        try {
            Files.createDirectories(target);
            for (String folder : folders) {
                Path source = Path.of(TestMigrations.class.getResource("/sync/" + folder).toURI());
                try (Stream<Path> files = Files.list(source)) {
                    for (Path file : files.toList()) {
                        Files.copy(file, target.resolve(file.getFileName()));
                    }
                }
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
