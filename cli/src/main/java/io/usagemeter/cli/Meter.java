package io.usagemeter.cli;

import java.io.InputStream;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The single {@code meter} command: every service, the dev stack, and the admin and schema verbs. */
@Command(
        name = "meter",
        mixinStandardHelpOptions = true,
        versionProvider = Meter.Version.class,
        description = "usage-meter: per-user monthly API usage and referral-boosted limits on Kafka and PostgreSQL.",
        subcommands = {
            CommandLine.HelpCommand.class,
            DevCommand.class,
            ServiceCommands.Ingest.class,
            ServiceCommands.Aggregator.class,
            ServiceCommands.Enforcer.class,
            NotifierCommand.class,
            SchemaCommand.class,
            AdminCommand.class,
            TokensCommand.class,
            LoadCommand.class,
            ReconcileCommand.class,
        })
public final class Meter implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * The process environment, read by every subcommand through {@link #environment()} instead of
     * {@code System.getenv()}, so tests can run a command in-process with their own variables
     * ({@link #commandLine(Map)}).
     */
    private final Map<String, String> environment;

    private Meter(Map<String, String> environment) {
        this.environment = Map.copyOf(environment);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs one command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    static CommandLine commandLine() {
        return commandLine(System.getenv(), System.in);
    }

    /** The command line over the given environment variables (tests pass their own map). */
    static CommandLine commandLine(Map<String, String> environment) {
        return commandLine(environment, System.in);
    }

    /** The command line over an explicit environment and standard input, so tests control both. */
    static CommandLine commandLine(Map<String, String> environment, InputStream stdin) {
        return new CommandLine(new Meter(environment), new Factory(environment, stdin))
                .setExecutionExceptionHandler(new OneLineErrors());
    }

    Map<String, String> environment() {
        return environment;
    }

    /**
     * Hands the environment and standard input to the commands that take them in their constructor
     * ({@code (Map)} or {@code (Map, InputStream)}); every other command is built by picocli.
     */
    private record Factory(Map<String, String> env, InputStream stdin) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> type) throws Exception {
            try {
                var withStdin = type.getDeclaredConstructor(Map.class, InputStream.class);
                withStdin.setAccessible(true);
                return withStdin.newInstance(env, stdin);
            } catch (NoSuchMethodException notThisOne) {
                // fall through
            }
            try {
                var withEnv = type.getDeclaredConstructor(Map.class);
                withEnv.setAccessible(true);
                return withEnv.newInstance(env);
            } catch (NoSuchMethodException notThisOne) {
                return CommandLine.defaultFactory().create(type);
            }
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Meter.class.getPackage().getImplementationVersion();
            return new String[] {"meter " + (v == null ? "development build" : v)};
        }
    }
}
