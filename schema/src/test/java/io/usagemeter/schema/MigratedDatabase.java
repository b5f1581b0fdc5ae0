package io.usagemeter.schema;

import io.usagemeter.embedded.TestStack;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/** A PostgreSQL of {@link TestStack} with one database migrated to the latest version; one per test class. */
final class MigratedDatabase implements AutoCloseable {

    private final TestStack server;
    private final DataSource dataSource;
    private final int migrationsApplied;
    // The data source is unpooled: one connection for the whole class keeps hundreds of calls cheap.
    private final Connection connection;

    private MigratedDatabase(TestStack server, DataSource dataSource, int migrationsApplied)
            throws SQLException {
        this.server = server;
        this.dataSource = dataSource;
        this.migrationsApplied = migrationsApplied;
        this.connection = dataSource.getConnection();
    }

    static MigratedDatabase start() {
        TestStack server = TestStack.withSharedBroker();
        DataSource dataSource = server.dataSource("meter");
        int applied = FlywayMigrations.flyway(dataSource).migrate().migrationsExecuted;
        try {
            return new MigratedDatabase(server, dataSource, applied);
        } catch (SQLException e) {
            server.close();
            throw new IllegalStateException("could not connect to the migrated database: " + e.getMessage(), e);
        }
    }

    DataSource dataSource() {
        return dataSource;
    }

    DSLContext dsl() {
        return DSL.using(connection, SQLDialect.POSTGRES);
    }

    int migrationsApplied() {
        return migrationsApplied;
    }

    @Override
    public void close() {
        try {
            connection.close();
        } catch (SQLException e) {
            // The server goes away next anyway.
        }
        server.close();
    }
}
