package io.usagemeter.cli;

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
            AdminCommand.class,
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
        return new CommandLine(new Meter())
                .setExecutionExceptionHandler(new OneLineErrors());
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
