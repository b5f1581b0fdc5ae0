package io.usagemeter.bench;

import io.usagemeter.embedded.EmbeddedKafkaBroker;
import io.usagemeter.embedded.EmbeddedPostgresServer;
import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Map;

/**
 * The broker and PostgreSQL of {@code bench/run-chaos}, each in a process of its own so the script can
 * kill and start them: {@code broker DIR PORT} runs the KRaft broker on a kept data directory (creating the
 * topics) until it is killed; {@code postgres DIR PORT} starts PostgreSQL on a kept data directory, creates
 * and migrates the {@code meter} database, and returns, leaving the server running (the script stops and
 * starts it with {@code pg_ctl}).
 */
public final class ChaosInfra {

    private ChaosInfra() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            throw new IllegalArgumentException("usage: ChaosInfra broker|postgres DIR PORT");
        }
        Path dir = Path.of(args[1]);
        int port = Integer.parseInt(args[2]);
        Files.createDirectories(dir);
        switch (args[0]) {
            case "broker" -> {
                EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir, port);
                try (var admin = org.apache.kafka.clients.admin.Admin.create(
                        Map.of("bootstrap.servers", broker.bootstrapServers()))) {
                    TopicBootstrapper.bootstrap(admin, TopicSettings.singleBroker());
                }
                System.out.println("broker ready at " + broker.bootstrapServers());
                Thread.currentThread().join();
            }
            case "postgres" -> {
                EmbeddedPostgresServer postgres = EmbeddedPostgresServer.start(dir, port);
                if (!databaseExists(postgres)) {
                    postgres.createDatabase("meter");
                }
                FlywayMigrations.flyway(postgres.dataSource("meter")).migrate();
                System.out.println("postgres ready at " + postgres.jdbcUrl("meter"));
                // Leaves the server running on purpose: it outlives this process, as a real one would.
                Runtime.getRuntime().halt(0);
            }
            default -> throw new IllegalArgumentException("broker or postgres, not " + args[0]);
        }
    }

    private static boolean databaseExists(EmbeddedPostgresServer postgres) throws SQLException {
        try (Connection c = postgres.dataSource("postgres").getConnection();
             var rs = c.createStatement().executeQuery("SELECT 1 FROM pg_database WHERE datname = 'meter'")) {
            return rs.next();
        }
    }
}
