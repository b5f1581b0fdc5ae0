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
            TokensCommand.class,
            EnforcerAdminGroup.class,
        })
public final class Meter implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

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

    /** The command line over an explicit environment and standard input, so tests control both. */
    static CommandLine commandLine(Map<String, String> env, InputStream stdin) {
        return new CommandLine(new Meter(), new Factory(env, stdin))
                .setExecutionExceptionHandler(new OneLineErrors());
    }

    /** Hands the environment and standard input to the commands that read them. */
    private record Factory(Map<String, String> env, InputStream stdin) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> type) throws Exception {
            if (type == TokensCommand.class) {
                return type.cast(new TokensCommand(env, stdin));
            }
            return CommandLine.defaultFactory().create(type);
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
