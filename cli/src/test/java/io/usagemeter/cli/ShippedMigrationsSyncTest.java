package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.embedded.TestStack;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import picocli.CommandLine;

/**
 * The migrations this jar ships, synced to two separate servers (dev and prod): they apply, a second sync is
 * a no-op, status agrees, and diff finds no difference between them nor against a fresh build of the migrations.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ShippedMigrationsSyncTest {

    static TestStack dev;
    static TestStack prod;
    static Map<String, String> env;

    record Run(int code, String out, String err) {}

    @BeforeAll
    static void start() {
        dev = TestStack.withSharedBroker();
        prod = TestStack.withSharedBroker();
        env = Map.of(
                "METER_DB_DEV_URL", dev.jdbcUrl("meter_dev"), "METER_DB_DEV_USER", dev.user(),
                "METER_DB_DEV_PASSWORD", dev.password(),
                "METER_DB_PROD_URL", prod.jdbcUrl("meter_prod"), "METER_DB_PROD_USER", prod.user(),
                "METER_DB_PROD_PASSWORD", prod.password());
    }

    @AfterAll
    static void stop() {
        if (dev != null) {
            dev.close();
        }
        if (prod != null) {
            prod.close();
        }
    }

    static Run meter(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Meter.commandLine(env);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    @Order(1)
    void syncAppliesEveryShippedMigrationToDevThenProd() {
        Run run = meter("schema", "sync");
        assertThat(run.code()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).contains("dev").contains("prod").contains("V1").contains("V5");
    }

    @Test
    @Order(2)
    void secondSyncIsANoOpAndStatusAgrees() {
        Run again = meter("schema", "sync");
        assertThat(again.code()).isZero();
        assertThat(again.out()).contains("up to date").doesNotContain("applied");

        Run status = meter("schema", "status");
        assertThat(status.code()).as(status.out() + status.err()).isZero();
        assertThat(status.out()).containsIgnoringCase("agree");
    }

    @Test
    @Order(3)
    void identicalEnvironmentsHaveNoDifferencesNorDriftFromTheMigrations() {
        Run diff = meter("schema", "diff");
        assertThat(diff.code()).as(diff.out() + diff.err()).isZero();
        assertThat(diff.out()).contains("no differences");

        Run drift = meter("schema", "diff", "--against-migrations");
        assertThat(drift.code()).as(drift.out() + drift.err()).isZero();
    }

    @Test
    @Order(4)
    void validatePassesOnBoth() {
        Run validate = meter("schema", "validate");
        assertThat(validate.code()).as(validate.out() + validate.err()).isZero();
        assertThat(validate.out()).contains("dev: ok").contains("prod: ok");
    }
}
