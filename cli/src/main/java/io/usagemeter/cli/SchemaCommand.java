package io.usagemeter.cli;

import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.schema.sync.Agreement;
import io.usagemeter.schema.sync.CredentialMask;
import io.usagemeter.schema.legacy.AdoptionReport;
import io.usagemeter.schema.legacy.LegacyAdoption;
import io.usagemeter.schema.sync.DatabaseConnector;
import io.usagemeter.schema.sync.DatabaseEnvironment;
import io.usagemeter.schema.sync.EnvironmentStatus;
import io.usagemeter.schema.sync.MigrationFiles;
import io.usagemeter.schema.sync.MigrationSource;
import io.usagemeter.schema.sync.MigrationStatus;
import io.usagemeter.schema.sync.SchemaDiff;
import io.usagemeter.schema.sync.SchemaDifference;
import io.usagemeter.schema.sync.SchemaMigrator;
import io.usagemeter.schema.sync.SchemaToolException;
import io.usagemeter.schema.sync.SyncOutcome;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meter schema}: the dev/prod schema workflow over the environments named by
 * {@code METER_DB_<ENV>_URL}, {@code _USER} and {@code _PASSWORD}.
 */
@Command(
        name = "schema",
        description = "Keep the dev and prod schemas in step with the migrations and with each other.",
        subcommands = {
            SchemaCommand.Status.class,
            SchemaCommand.Sync.class,
            SchemaCommand.Diff.class,
            SchemaCommand.Validate.class,
            SchemaCommand.Baseline.class,
            SchemaCommand.New.class,
        })
final class SchemaCommand implements Runnable {

    @ParentCommand
    Meter meter;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Options every verb that talks to databases shares. */
    static final class EnvironmentOptions {
        @Option(names = "--env", split = ",", paramLabel = "ENV",
                description = "Environments, in order (default: ${DEFAULT-VALUE}); each needs METER_DB_<ENV>_URL, _USER, _PASSWORD.",
                defaultValue = "dev,prod")
        List<String> environments = new ArrayList<>(DatabaseEnvironment.DEFAULT_NAMES);

        @Option(names = "--migrations", paramLabel = "DIR",
                description = "Migrations directory (default: the migrations shipped in this jar).")
        Path migrations;

        MigrationSource source() {
            return migrations == null ? MigrationSource.shipped() : MigrationSource.directory(migrations);
        }
    }

    /**
     * A verb over environments: parses them once, and makes sure nothing it prints or throws
     * carries a credential.
     */
    abstract static class DatabaseVerb implements Callable<Integer> {
        @ParentCommand
        SchemaCommand schema;

        @Spec
        CommandSpec spec;

        @Mixin
        EnvironmentOptions options;

        PrintWriter out;
        CredentialMask mask = new CredentialMask(List.of());

        abstract int execute(List<DatabaseEnvironment> environments);

        @Override
        public final Integer call() {
            out = spec.commandLine().getOut();
            try {
                List<DatabaseEnvironment> environments =
                        DatabaseEnvironment.fromVariables(schema.meter.environment(), options.environments);
                mask = new CredentialMask(environments);
                int code = execute(environments);
                out.flush();
                return code;
            } catch (SchemaToolException e) {
                out.flush();
                throw new SchemaToolException(mask.scrub(e.getMessage()));
            } catch (RuntimeException e) {
                out.flush();
                String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                throw new SchemaToolException(mask.scrub(firstLine(message)));
            }
        }

        void print(String line) {
            out.println(mask.scrub(line));
        }
    }

    @Command(name = "status", description = "Each environment's migrations (applied, pending, failed, edited, missing) and whether they agree.")
    static final class Status extends DatabaseVerb {
        @Override
        int execute(List<DatabaseEnvironment> environments) {
            SchemaMigrator migrator = new SchemaMigrator(options.source());
            List<EnvironmentStatus> statuses = new ArrayList<>();
            boolean problems = false;
            for (DatabaseEnvironment env : environments) {
                EnvironmentStatus status = migrator.status(env);
                statuses.add(status);
                problems |= !status.problems().isEmpty();
                print(env.name() + "  " + env.maskedUrl());
                printTable(status);
            }
            Agreement agreement = Agreement.of(statuses);
            List<String> names = environments.stream().map(DatabaseEnvironment::name).toList();
            if (environments.size() < 2) {
                print("(one environment: nothing to compare)");
            } else if (agreement.agree()) {
                print("environments agree: " + String.join(", ", names)
                        + " have the same migrations applied with the same checksums");
            } else {
                print("environments disagree (" + String.join(", ", names) + "):");
                agreement.disagreements().forEach(d -> print("  " + d));
            }
            return problems || !agreement.agree() ? 1 : 0;
        }

        private void printTable(EnvironmentStatus status) {
            if (status.migrations().isEmpty()) {
                print("  (no migrations)");
                return;
            }
            int width = Math.max("DESCRIPTION".length(),
                    status.migrations().stream().mapToInt(m -> m.description().length()).max().orElse(0));
            String format = "  %-8s %-" + width + "s  %s";
            print(String.format(format, "VERSION", "DESCRIPTION", "STATE"));
            for (MigrationStatus m : status.migrations()) {
                print(String.format(format, m.version(), m.description(), m.state().label()));
            }
        }
    }

    @Command(name = "sync", description = "Migrate dev, then prod only if dev succeeded (one transaction per migration).")
    static final class Sync extends DatabaseVerb {
        @Override
        int execute(List<DatabaseEnvironment> environments) {
            List<SyncOutcome> outcomes = new SchemaMigrator(options.source()).sync(environments);
            for (SyncOutcome outcome : outcomes) {
                String name = outcome.environment().name();
                switch (outcome.result()) {
                    case UP_TO_DATE -> print(name + ": up to date");
                    case APPLIED -> print(name + ": applied " + count(outcome.applied().size()));
                    case FAILED -> print(name + ": FAILED: " + outcome.reason()
                            + (outcome.applied().isEmpty() ? "" : " (applied before the failure: "
                                    + count(outcome.applied().size()) + ")"));
                    case NOT_ATTEMPTED -> print(name + ": " + outcome.reason());
                }
                outcome.applied().forEach(m -> print("  V" + m.version() + "  " + m.description()));
            }
            return outcomes.stream().anyMatch(SyncOutcome::failed) ? 1 : 0;
        }

        private static String count(int n) {
            return n + (n == 1 ? " migration" : " migrations");
        }
    }

    @Command(name = "baseline", description = "Adopt a database of the older system: its schema moves to `legacy`, "
            + "the migrations build `public`, and its rows are copied over (dev first, then prod if dev succeeded).")
    static final class Baseline extends DatabaseVerb {
        @Override
        int execute(List<DatabaseEnvironment> environments) {
            String failed = null;
            for (DatabaseEnvironment env : environments) {
                if (failed != null) {
                    print(env.name() + ": not attempted because " + failed + " failed");
                    continue;
                }
                try {
                    AdoptionReport report = new LegacyAdoption().adopt(DatabaseConnector.dataSource(env));
                    print(env.name() + ": adopted; older schema kept as `" + report.legacySchema()
                            + "`, now at version " + report.schemaVersion()
                            + " (" + report.migrationsApplied() + " migrations applied)");
                    for (AdoptionReport.TableCopy t : report.tables()) {
                        print(String.format("  %-24s %8d of %d legacy rows (from %s)",
                                t.table(), t.copiedRows(), t.legacyRows(), t.legacyTable()));
                    }
                } catch (RuntimeException e) {
                    print(env.name() + ": FAILED: " + firstLine(String.valueOf(e.getMessage())));
                    failed = env.name();
                }
            }
            return failed == null ? 0 : 1;
        }
    }

    @Command(name = "validate", description = "Check applied migrations against the files: edited after apply, missing, failed.")
    static final class Validate extends DatabaseVerb {
        @Override
        int execute(List<DatabaseEnvironment> environments) {
            SchemaMigrator migrator = new SchemaMigrator(options.source());
            int problems = 0;
            for (DatabaseEnvironment env : environments) {
                EnvironmentStatus status = migrator.status(env);
                if (status.problems().isEmpty()) {
                    print(env.name() + ": ok (" + status.applied().size() + " applied, "
                            + status.pending().size() + " pending)");
                } else {
                    print(env.name() + ": " + status.problems().size()
                            + (status.problems().size() == 1 ? " problem" : " problems"));
                    status.problems().forEach(m -> print("  " + m.displayName() + ": " + m.state().label()));
                }
                problems += status.problems().size();
            }
            return problems == 0 ? 0 : 1;
        }
    }

    @Command(name = "diff", description = "Compare the live schemas of two environments (default dev vs prod): "
            + "tables, columns, constraints, indexes, partitions, functions, triggers, views.")
    static final class Diff extends DatabaseVerb {
        @Option(names = "--schema", split = ",", paramLabel = "SCHEMA", defaultValue = "public",
                description = "Database schemas to compare (default: ${DEFAULT-VALUE}).")
        List<String> schemas;

        @Option(names = "--against-migrations",
                description = "Also compare each environment with a fresh embedded database built from the migrations.")
        boolean againstMigrations;

        @Override
        int execute(List<DatabaseEnvironment> environments) {
            if (environments.size() != 2 && !againstMigrations) {
                throw new SchemaToolException("diff compares two environments: pass --env dev,prod (got "
                        + environments.size() + ")");
            }
            SchemaDiff diff = new SchemaDiff(schemas);
            int differences = 0;
            if (environments.size() == 2) {
                differences += report(diff, environments.get(0), environments.get(1), "");
            }
            if (againstMigrations) {
                differences += compareWithMigrations(diff, environments);
            }
            return differences == 0 ? 0 : 1;
        }

        /** Prints the differences, each on its own line (indented under a heading when several comparisons run). */
        private int report(SchemaDiff diff, DatabaseEnvironment left, DatabaseEnvironment right, String indent) {
            List<SchemaDifference> found = diff.compare(left, right);
            if (found.isEmpty()) {
                print(indent + "no differences between " + left.name() + " and " + right.name());
            }
            found.forEach(d -> print(indent + d.line()));
            return found.size();
        }

        /** Builds the schema the migrations describe in an embedded PostgreSQL and compares with it. */
        private int compareWithMigrations(SchemaDiff diff, List<DatabaseEnvironment> environments) {
            try (EmbeddedPostgresServer server = EmbeddedPostgresServer.start()) {
                DatabaseEnvironment reference = new DatabaseEnvironment("migrations",
                        server.createDatabase("meter_migrations"), EmbeddedPostgresServer.SUPERUSER, "");
                SyncOutcome built = new SchemaMigrator(options.source()).sync(List.of(reference)).get(0);
                if (built.failed()) {
                    throw new SchemaToolException("the migrations do not apply to an empty database: " + built.reason());
                }
                int differences = 0;
                for (DatabaseEnvironment env : environments) {
                    print(env.name() + " vs the migrations (" + options.source() + "):");
                    differences += report(diff, env, reference, "  ");
                }
                return differences;
            }
        }
    }

    @Command(name = "new", description = "Create the next numbered, empty migration file V<n+1>__<name>.sql.")
    static final class New implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "NAME", description = "What the migration does, e.g. add_referral_index.")
        String name;

        @Option(names = {"--dir", "--migrations"}, paramLabel = "DIR",
                defaultValue = "schema/src/main/resources/db/migration",
                description = "Migrations directory (default: ${DEFAULT-VALUE}, relative to the working directory).")
        Path dir;

        @Override
        public Integer call() {
            Path file = MigrationFiles.createNext(dir, name, LocalDate.now());
            spec.commandLine().getOut().println(file);
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    static String firstLine(String message) {
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline).trim();
    }
}
