package io.usagemeter.schema;

import io.usagemeter.embedded.EmbeddedPostgresServer;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/** An embedded PostgreSQL with one database migrated to the latest version; one per test class. */
final class MigratedDatabase implements AutoCloseable {

    private final EmbeddedPostgresServer server;
    private final DataSource dataSource;
    private final int migrationsApplied;

    private MigratedDatabase(EmbeddedPostgresServer server, DataSource dataSource, int migrationsApplied) {
        this.server = server;
        this.dataSource = dataSource;
        this.migrationsApplied = migrationsApplied;
    }

    static MigratedDatabase start() {
        EmbeddedPostgresServer server = EmbeddedPostgresServer.start();
        server.createDatabase("meter");
        DataSource dataSource = server.dataSource("meter");
        int applied = FlywayMigrations.flyway(dataSource).migrate().migrationsExecuted;
        return new MigratedDatabase(server, dataSource, applied);
    }

    DataSource dataSource() {
        return dataSource;
    }

    DSLContext dsl() {
        return DSL.using(dataSource, SQLDialect.POSTGRES);
    }

    int migrationsApplied() {
        return migrationsApplied;
    }

    @Override
    public void close() {
        server.close();
    }
}
