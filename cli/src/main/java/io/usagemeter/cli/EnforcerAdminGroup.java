package io.usagemeter.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code meter admin} with the enforcer's verbs. Lead: when merging with the ingest branch's
 * {@code AdminCommand} (create-api-key), register {@link EnforcerAdminCommands#SUBCOMMANDS} there and drop this class.
 */
@Command(name = "admin", mixinStandardHelpOptions = true, description = "Admin verbs over the admin API or Kafka and PostgreSQL.",
        subcommands = {
            EnforcerAdminCommands.ResetUsage.class,
            EnforcerAdminCommands.AddCredits.class,
            EnforcerAdminCommands.SetPlan.class,
            EnforcerAdminCommands.Users.class,
            EnforcerAdminCommands.Analytics.class,
        })
final class EnforcerAdminGroup implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
