package io.usagemeter.schema;

import javax.sql.DataSource;
import org.flywaydb.core.Flyway;

/** The one Flyway configuration of the project: versioned SQL migrations shipped in this module. */
public final class FlywayMigrations {

    /** Where the migrations live on the classpath (schema/src/main/resources/db/migration). */
    public static final String LOCATION = "classpath:db/migration";

    private FlywayMigrations() {
    }

    /** Flyway over {@code dataSource}'s default schema ({@code public}); clean is never allowed. */
    public static Flyway flyway(DataSource dataSource) {
        return Flyway.configure()
                .dataSource(dataSource)
                .locations(LOCATION)
                .cleanDisabled(true)
                .load();
    }
}
