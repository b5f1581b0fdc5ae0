package io.usagemeter.cli;

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
            SchemaCommand.class,
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
        return commandLine(System.getenv());
    }

    /** The command line over the given environment variables (tests pass their own map). */
    static CommandLine commandLine(Map<String, String> environment) {
        return new CommandLine(new Meter(environment))
                .setExecutionExceptionHandler(new OneLineErrors());
    }

    Map<String, String> environment() {
        return environment;
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
