package io.usagemeter.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** One service against external Kafka and PostgreSQL. Each arrives with its own issue. */
final class ServiceCommands {

    private ServiceCommands() {}

    abstract static class NotYet implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        abstract String issue();

        @Override
        public Integer call() {
            spec.commandLine().getErr().println(
                    "meter " + spec.name() + ": arrives with issue " + issue() + "; not available in this build.");
            return 2;
        }
    }

    @Command(name = "ingest", description = "Run the HTTP ingest service.")
    static final class Ingest extends NotYet {
        @Override
        String issue() {
            return "#3";
        }
    }

    @Command(name = "aggregator", description = "Run the aggregator (Kafka Streams + PostgreSQL sink).")
    static final class Aggregator extends NotYet {
        @Override
        String issue() {
            return "#4";
        }
    }

    /**
     * {@code meter enforcer}: the limits enforcer configured from {@code METER_*} variables, running until the
     * process is stopped; a named shutdown hook stops it cleanly.
     */
    @Command(name = "enforcer", description = "Run the limits enforcer (Kafka Streams + limit checks; config from "
            + "METER_ENFORCER_*, METER_ADMIN_*, METER_KAFKA_BOOTSTRAP, METER_DB_*).")
    static final class Enforcer implements Callable<Integer> {
        @Override
        public Integer call() throws InterruptedException {
            io.usagemeter.enforcer.EnforcerMain.run(io.usagemeter.enforcer.EnforcerConfig.fromEnv(System.getenv()));
            return 0;
        }
    }
}
