package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md names every {@code METER_*} variable the code reads, each in a table row with its
 * default and meaning, and names none that nothing reads. "Read" means a {@code "METER_..."} literal in
 * a main source of any module, a {@code ${METER_...}} in a main resource (logback.xml), or a variable of
 * the {@code ./meter} launcher or the {@code bench/run*} scripts.
 */
class ConfigurationDocsTest {

    private static final Pattern JAVA_LITERAL = Pattern.compile("\"(METER_[A-Z0-9_]*)\"");
    private static final Pattern RESOURCE_VARIABLE = Pattern.compile("\\$\\{(METER_[A-Z0-9_]+)");
    private static final Pattern SCRIPT_VARIABLE = Pattern.compile("\\b(METER_[A-Z0-9_]+)");
    /** A table row: | `NAME` | default | meaning |. */
    private static final Pattern ROW = Pattern.compile("(?m)^\\|\\s*`(METER_[A-Z0-9_<>]+)`\\s*\\|([^|\\n]*)\\|([^\\n]*)\\|\\s*$");
    /** {@code METER_DB_<ENV>_URL} and friends: read through the prefix {@code "METER_DB_"} and an environment name. */
    private static final String PER_ENVIRONMENT_PREFIX = "METER_DB_";
    /** One environment's variables, e.g. {@code METER_DB_DEV_URL} as {@code meter dev} writes them: the rows above. */
    private static final Pattern PER_ENVIRONMENT = Pattern.compile("METER_DB_[A-Z0-9]+_(URL|USER|PASSWORD)");
    private static final Set<String> PER_ENVIRONMENT_ROWS =
            Set.of("METER_DB_<ENV>_URL", "METER_DB_<ENV>_USER", "METER_DB_<ENV>_PASSWORD");

    private static Path root;
    private static Set<String> read;
    /** Documented variable → its default and meaning cells. */
    private static Map<String, String[]> documented;

    @BeforeAll
    static void scan() throws IOException {
        root = Path.of("").toAbsolutePath().getParent();
        read = new TreeSet<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                String name = dir.getFileName() == null ? "" : dir.getFileName().toString();
                return Set.of("target", ".git", ".meter", "node_modules").contains(name)
                        ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                String path = root.relativize(file).toString();
                if (path.endsWith(".java") && path.contains("/src/main/java/")) {
                    collect(JAVA_LITERAL, file);
                } else if (path.contains("/src/main/resources/")) {
                    collect(RESOURCE_VARIABLE, file);
                } else if (path.equals("meter") || path.matches("bench/run[^/]*")) {
                    collect(SCRIPT_VARIABLE, file);
                }
                return FileVisitResult.CONTINUE;
            }
        });
        assertThat(read).as("variables found in the code").contains("METER_KAFKA_BOOTSTRAP", "METER_LOG_LEVEL", "METER_JAVA_OPTS");
        documented = new TreeMap<>();
        Matcher row = ROW.matcher(Files.readString(root.resolve("docs").resolve("configuration.md")));
        while (row.find()) {
            documented.put(row.group(1), new String[] {row.group(2).strip(), row.group(3).strip()});
        }
    }

    @Test
    void everyVariableTheCodeReadsHasARowWithItsDefaultAndMeaning() {
        Set<String> missing = new TreeSet<>();
        for (String name : read) {
            if (name.equals(PER_ENVIRONMENT_PREFIX)) {
                if (!documented.keySet().containsAll(PER_ENVIRONMENT_ROWS)) {
                    missing.addAll(PER_ENVIRONMENT_ROWS);
                }
            } else if (name.endsWith("_")) {
                continue;
            } else if (PER_ENVIRONMENT.matcher(name).matches()) {
                String row = "METER_DB_<ENV>_" + name.substring(name.lastIndexOf('_') + 1);
                if (!documented.containsKey(row)) {
                    missing.add(row);
                }
            } else if (!documented.containsKey(name)) {
                missing.add(name);
            }
        }
        assertThat(missing).as("read by the code but not in a table of docs/configuration.md").isEmpty();
        documented.forEach((name, cells) -> {
            assertThat(cells[0]).as("default of " + name).isNotEmpty();
            assertThat(cells[1]).as("meaning of " + name).isNotBlank();
        });
    }

    @Test
    void everyDocumentedVariableIsReadByTheCode() {
        Set<String> unread = new TreeSet<>();
        for (String name : documented.keySet()) {
            boolean perEnvironment = PER_ENVIRONMENT_ROWS.contains(name) && read.contains(PER_ENVIRONMENT_PREFIX);
            if (!perEnvironment && !read.contains(name)) {
                unread.add(name);
            }
        }
        assertThat(unread).as("documented in docs/configuration.md but read by no code").isEmpty();
    }

    private static void collect(Pattern pattern, Path file) {
        try {
            Matcher m = pattern.matcher(Files.readString(file));
            while (m.find()) {
                read.add(m.group(1));
            }
        } catch (IOException | java.io.UncheckedIOException binaryOrUnreadable) {
            // not text: no variables in it
        }
    }
}
