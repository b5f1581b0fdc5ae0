package io.usagemeter.enforcer;

import java.time.Clock;
import java.time.Duration;
import java.util.Properties;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@link EnforcerMain} on a test's clock, for the child JVMs of the multi-instance tests: the real clock
 * moved by {@code -Dmeter.test.clock-offset} (an ISO-8601 duration, {@link io.usagemeter.embedded.TestMonth#offset()}),
 * so the child sees the month and time the test and its in-process instances see, also across midnight
 * at a month's end.
 */
public final class ClockedEnforcerMain {

    static final String OFFSET_PROPERTY = "meter.test.clock-offset";

    private ClockedEnforcerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        EnforcerConfig config = EnforcerConfig.fromEnv(System.getenv());
        Clock clock = Clock.offset(Clock.systemUTC(), Duration.parse(System.getProperty(OFFSET_PROPERTY)));
        PGSimpleDataSource database = new PGSimpleDataSource();
        database.setUrl(config.dbUrl());
        database.setUser(config.dbUser());
        database.setPassword(config.dbPassword());
        EnforcerMain.run(new EnforcerService(config, DSL.using(database, SQLDialect.POSTGRES), clock, new Properties()));
    }
}
