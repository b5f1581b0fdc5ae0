package io.usagemeter.schema.sync;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Creates the next numbered migration file ({@code meter schema new NAME}). */
public final class MigrationFiles {

    private static final Pattern VERSIONED = Pattern.compile("V(\\d+)__.+\\.sql");
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,62}");

    private MigrationFiles() {}

    /**
     * Writes an empty {@code V<n+1>__<name>.sql} with a header comment into {@code dir}.
     *
     * @param name words for the migration, e.g. {@code add-referral-index} or {@code "add referral index"}
     * @return the new file
     */
    public static Path createNext(Path dir, String name, LocalDate today) {
        String snake = toSnakeCase(name);
        if (!Files.isDirectory(dir)) {
            throw new SchemaToolException("migrations directory " + dir + " does not exist (use --dir)");
        }
        int next = latestVersion(dir) + 1;
        Path file = dir.resolve("V" + next + "__" + snake + ".sql");
        String header = "-- V" + next + " " + snake.replace('_', ' ') + " (created " + today + ").\n"
                + "-- Runs in one transaction with the other statements of this file; a failure rolls it all back.\n"
                + "-- Never edit this file after it has been applied to dev or prod: add a new migration instead.\n\n";
        try {
            Files.writeString(file, header, StandardOpenOption.CREATE_NEW);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write " + file + ": " + e.getMessage(), e);
        }
        return file;
    }

    /** {@code "Add referral-Index"} → {@code add_referral_index}; refuses names that are not words. */
    static String toSnakeCase(String name) {
        String snake = name == null ? "" : name.trim().toLowerCase(Locale.ROOT).replaceAll("[\\s-]+", "_");
        if (!NAME.matcher(snake).matches() || snake.contains("__") || snake.endsWith("_")) {
            throw new SchemaToolException("bad migration name '" + name
                    + "': use letters, digits, spaces, - or _ and start with a letter, e.g. add_referral_index");
        }
        return snake;
    }

    static int latestVersion(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(p -> VERSIONED.matcher(p.getFileName().toString()))
                    .filter(Matcher::matches)
                    .mapToInt(m -> Integer.parseInt(m.group(1)))
                    .max().orElse(0);
        } catch (IOException e) {
            throw new UncheckedIOException("could not list " + dir + ": " + e.getMessage(), e);
        }
    }
}
