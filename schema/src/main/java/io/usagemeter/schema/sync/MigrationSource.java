package io.usagemeter.schema.sync;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the migrations come from, as a Flyway location: the ones shipped in the jar
 * ({@code classpath:db/migration}) or a directory ({@code filesystem:DIR}).
 */
public record MigrationSource(String location) {

    public static final String SHIPPED = "classpath:db/migration";

    public static MigrationSource shipped() {
        return new MigrationSource(SHIPPED);
    }

    /** The migrations in {@code dir}, which must exist. */
    public static MigrationSource directory(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw new SchemaToolException("migrations directory " + dir + " does not exist");
        }
        return new MigrationSource("filesystem:" + dir.toAbsolutePath().normalize());
    }

    @Override
    public String toString() {
        return location;
    }
}
