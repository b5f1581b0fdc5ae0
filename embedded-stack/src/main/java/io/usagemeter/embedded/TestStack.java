package io.usagemeter.embedded;

import io.usagemeter.embedded.internal.ContainerTestStack;
import javax.sql.DataSource;

/**
 * Kafka and PostgreSQL for a test class: in-process by default ({@link EmbeddedKafkaBroker},
 * {@link EmbeddedPostgresServer}), or Docker containers ({@code apache/kafka} in KRaft mode,
 * {@code postgres:17}) when the tests run with {@code -Dmeter.test.stack=containers}. Without a
 * Docker engine the containers mode skips the test class with one line saying so.
 */
public interface TestStack extends AutoCloseable {

    String MODE_PROPERTY = "meter.test.stack";

    /** The stack chosen by {@code -Dmeter.test.stack} ({@code embedded}, the default, or {@code containers}). */
    static TestStack start() {
        String mode = System.getProperty(MODE_PROPERTY, "embedded");
        return switch (mode) {
            case "embedded" -> new Embedded(EmbeddedKafkaBroker.start(), EmbeddedPostgresServer.start());
            case "containers" -> ContainerTestStack.start();
            default -> throw new IllegalArgumentException("-D" + MODE_PROPERTY + " must be embedded or containers, was " + mode);
        };
    }

    /** {@code bootstrap.servers} of the broker. */
    String kafkaBootstrap();

    /** JDBC URL of {@code database}, created empty on first use. */
    String jdbcUrl(String database);

    /** User and password that log in to every database of {@link #jdbcUrl(String)}. */
    String user();

    String password();

    DataSource dataSource(String database);

    @Override
    void close();

    /** The in-process stack. */
    record Embedded(EmbeddedKafkaBroker kafka, EmbeddedPostgresServer postgres) implements TestStack {
        @Override
        public String kafkaBootstrap() {
            return kafka.bootstrapServers();
        }

        @Override
        public String jdbcUrl(String database) {
            return postgres.createDatabase(database);
        }

        @Override
        public String user() {
            return EmbeddedPostgresServer.SUPERUSER;
        }

        @Override
        public String password() {
            return "";
        }

        @Override
        public DataSource dataSource(String database) {
            postgres.createDatabase(database);
            return postgres.dataSource(database);
        }

        @Override
        public void close() {
            try {
                postgres.close();
            } finally {
                kafka.close();
            }
        }
    }
}
