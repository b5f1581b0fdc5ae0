package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import picocli.CommandLine;

/**
 * docker-compose.yml agrees with the code and the docs: every {@code METER_*} variable it sets is
 * one the code reads and docs/configuration.md documents, and every service runs a real {@code meter} verb.
 */
class ComposeFileTest {

    private static final Pattern LITERAL = Pattern.compile("\"(METER_[A-Z0-9_]+)\"");
    /** {@code METER_DB_<ENV>_URL} and friends: read through a prefix built from the environment name. */
    private static final Pattern PER_ENVIRONMENT = Pattern.compile("METER_DB_[A-Z0-9]+_(URL|USER|PASSWORD)");

    private static Path root;
    private static Map<String, Map<String, String>> environmentByService;
    private static Map<String, List<String>> commandByService;

    @BeforeAll
    static void readCompose() throws IOException {
        root = Path.of("").toAbsolutePath().getParent();
        assertThat(root.resolve("docker-compose.yml")).exists();
        // SnakeYAML (under jackson-dataformat-yaml) resolves the file's anchors and `<<` merge keys,
        // which Jackson's streaming YAML parser leaves unresolved; Jackson then walks the result.
        Object loaded = new Yaml(new SafeConstructor(new LoaderOptions()))
                .load(Files.readString(root.resolve("docker-compose.yml")));
        JsonNode compose = new ObjectMapper().valueToTree(loaded);
        environmentByService = new TreeMap<>();
        commandByService = new TreeMap<>();
        compose.get("services").fields().forEachRemaining(service -> {
            Map<String, String> env = new TreeMap<>();
            JsonNode environment = service.getValue().get("environment");
            if (environment != null) {
                environment.fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
            }
            environmentByService.put(service.getKey(), env);
            JsonNode command = service.getValue().get("command");
            if (command != null) {
                List<String> args = new ArrayList<>();
                command.forEach(a -> args.add(a.asText()));
                commandByService.put(service.getKey(), args);
            }
        });
        assertThat(new YAMLMapper().readTree(root.resolve("prometheus.yml").toFile()).get("scrape_configs")).isNotEmpty();
    }

    @Test
    void everyMeterVariableTheComposeFileSetsIsReadByTheCode() throws IOException {
        Set<String> read = literalsInMainSources();
        Set<String> unknown = new TreeSet<>();
        for (String name : composeVariables()) {
            if (!read.contains(name) && !(PER_ENVIRONMENT.matcher(name).matches() && read.contains("METER_DB_"))) {
                unknown.add(name);
            }
        }
        assertThat(unknown).as("set in docker-compose.yml but read by no code under */src/main").isEmpty();
    }

    @Test
    void everyMeterVariableTheComposeFileSetsIsInTheConfigurationTables() throws IOException {
        String configuration = Files.readString(root.resolve("docs").resolve("configuration.md"));
        Set<String> undocumented = new TreeSet<>();
        for (String name : composeVariables()) {
            boolean documented = Pattern.compile("(?m)^\\|\\s*`" + name + "`").matcher(configuration).find()
                    || PER_ENVIRONMENT.matcher(name).matches()
                            && Pattern.compile("(?m)^\\|\\s*`METER_DB_<ENV>_" + name.substring(name.lastIndexOf('_') + 1) + "`")
                                    .matcher(configuration).find();
            if (!documented) {
                undocumented.add(name);
            }
        }
        assertThat(undocumented).as("missing from the tables of docs/configuration.md").isEmpty();
    }

    @Test
    void everyServiceOfTheImageRunsARealMeterVerb() {
        CommandLine meter = Meter.commandLine(Map.of());
        assertThat(commandByService).containsKeys("schema", "ingest", "aggregator", "enforcer-1", "enforcer-2");
        commandByService.forEach((service, args) -> {
            CommandLine current = meter;
            List<String> verbs = new ArrayList<>();
            for (String arg : args) {
                if (arg.startsWith("-")) {
                    break;
                }
                CommandLine sub = current.getSubcommands().get(arg);
                assertThat(sub).as(service + ": 'meter " + String.join(" ", verbs) + " " + arg + "' is not a verb").isNotNull();
                verbs.add(arg);
                current = sub;
            }
            assertThat(current.getSubcommands()).as(service + " runs a leaf verb, not a group").isEmpty();
        });
        assertThat(commandByService.get("schema")).containsExactly("schema", "sync");
    }

    @Test
    void credentialsComeOnlyFromTheEnvFile() {
        environmentByService.forEach((service, env) -> env.forEach((name, value) -> {
            if (name.contains("PASSWORD") || name.contains("SECRET")) {
                assertThat(value).as(service + " " + name).startsWith("${").endsWith("}");
            }
        }));
    }

    /** Raw values before interpolation: `${X:?...}` for credentials. */
    private static Set<String> composeVariables() {
        Set<String> names = new TreeSet<>();
        environmentByService.values().forEach(env -> env.keySet().stream()
                .filter(n -> n.startsWith("METER_")).forEach(names::add));
        assertThat(names).isNotEmpty();
        return names;
    }

    private static Set<String> literalsInMainSources() throws IOException {
        Set<String> names = new TreeSet<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.filter(p -> p.toString().endsWith(".java") && p.toString().contains("/src/main/")
                    && !p.toString().contains("/target/")).toList()) {
                Matcher m = LITERAL.matcher(Files.readString(file));
                while (m.find()) {
                    names.add(m.group(1));
                }
            }
        }
        return names;
    }
}
