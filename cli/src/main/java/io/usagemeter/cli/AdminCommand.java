package io.usagemeter.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code meter admin}: operator verbs. Each issue adds its verbs as subcommands. */
@Command(name = "admin", description = "Operator commands: API keys, admin tokens, usage resets, credits, plans, reports, replay, rewind of the aggregator.",
        mixinStandardHelpOptions = true,
        subcommands = {
            ApiKeyCommands.Create.class,
            ApiKeyCommands.Revoke.class,
            AdminTokenCommand.class,
            EnforcerAdminCommands.ResetUsage.class,
            EnforcerAdminCommands.AddCredits.class,
            EnforcerAdminCommands.SetPlan.class,
            EnforcerAdminCommands.Users.class,
            EnforcerAdminCommands.Analytics.class,
            ReplayCommand.class,
            RewindAggregatorCommand.class,
        })
final class AdminCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }
}
