package io.usagemeter.embedded;

import io.usagemeter.embedded.internal.ContainerTestStack;
import javax.sql.DataSource;

/**
 * Kafka and PostgreSQL for a test class: in-process by default ({@link EmbeddedKafkaBroker},
 * {@link EmbeddedPostgresServer}), or Docker containers ({@code apache/kafka} in KRaft mode,
 * {@code postgres:17}) when the tests run with {@code -Dmeter.test.stack=containers}. Without a
 * Docker engine the containers mode skips the test class with one line saying so.
 *
 * <p>Every integration test takes its broker and database from here: {@link #start()} when the class
 * needs a broker of its own (it reads whole topics), {@link #withSharedBroker()} when it isolates
 * itself by topic names, application ids or consumer groups, and {@link #requireEmbedded(String)}
 * for the few that stop and restart the embedded servers themselves.
 */
public interface TestStack extends AutoCloseable {

    String MODE_PROPERTY = "meter.test.stack";

    /**
     * A broker and a PostgreSQL server of the caller's own, of the mode chosen by {@code -Dmeter.test.stack}: the
     * broker starts now, the database server on first use.
     */
    static TestStack start() {
        return switch (mode()) {
            case EMBEDDED -> new Embedded(EmbeddedKafkaBroker.start());
            case CONTAINERS -> ContainerTestStack.start(false);
        };
    }

    /**
     * A PostgreSQL server of the caller's own (started on first use) and the JVM's shared broker, started on
     * first use and stopped when the JVM exits ({@link SharedEmbeddedKafka} in the embedded mode, one container in
     * the other). Closing the stack stops only the database.
     */
    static TestStack withSharedBroker() {
        return switch (mode()) {
            case EMBEDDED -> new Embedded(null);
            case CONTAINERS -> ContainerTestStack.start(true);
        };
    }

    /**
     * {@code bootstrap.servers} of the JVM's shared broker, for a test that needs no database: the broker of
     * {@link #withSharedBroker()}.
     */
    static String sharedKafkaBootstrap() {
        return switch (mode()) {
            case EMBEDDED -> SharedEmbeddedKafka.bootstrapServers();
            case CONTAINERS -> ContainerTestStack.sharedKafkaBootstrap();
        };
    }

    /**
     * For a test that stops, kills or restarts the in-process broker or database itself (which a container
     * stack cannot do the same way): in the containers mode it skips the test class, saying {@code why}.
     */
    static void requireEmbedded(String why) {
        if (mode() == Mode.CONTAINERS) {
            throw ContainerTestStack.skip("-D" + MODE_PROPERTY + "=containers: skipped, it needs the in-process stack: " + why);
        }
    }

    /** {@code bootstrap.servers} of the broker. */
    String kafkaBootstrap();

    /** JDBC URL of {@code database}, created empty on first use. */
    String jdbcUrl(String database);

    /** Drops {@code database} when it exists and creates it again, empty; returns its JDBC URL. */
    String recreateDatabase(String database);

    /** User and password that log in to every database of {@link #jdbcUrl(String)}. */
    String user();

    String password();

    DataSource dataSource(String database);

    @Override
    void close();

    /** The modes of {@code -Dmeter.test.stack}. */
    enum Mode {
        EMBEDDED, CONTAINERS
    }

    /** The mode chosen by {@code -Dmeter.test.stack} ({@code embedded}, the default, or {@code containers}). */
    static Mode mode() {
        String mode = System.getProperty(MODE_PROPERTY, "embedded");
        return switch (mode) {
            case "embedded" -> Mode.EMBEDDED;
            case "containers" -> Mode.CONTAINERS;
            default -> throw new IllegalArgumentException("-D" + MODE_PROPERTY + " must be embedded or containers, was " + mode);
        };
    }

    /** The in-process stack. */
    final class Embedded implements TestStack {

        /** Null when the stack uses the JVM's shared broker. */
        private final EmbeddedKafkaBroker ownBroker;
        private EmbeddedPostgresServer postgres;

        Embedded(EmbeddedKafkaBroker ownBroker) {
            this.ownBroker = ownBroker;
        }

        /** The broker: the stack's own, or the JVM's shared one (started on first use). */
        public EmbeddedKafkaBroker kafka() {
            return ownBroker != null ? ownBroker : SharedEmbeddedKafka.get();
        }

        /** The stack's PostgreSQL server, started on first use. */
        public synchronized EmbeddedPostgresServer postgres() {
            if (postgres == null) {
                postgres = EmbeddedPostgresServer.start();
            }
            return postgres;
        }

        @Override
        public String kafkaBootstrap() {
            return kafka().bootstrapServers();
        }

        @Override
        public String jdbcUrl(String database) {
            return postgres().createDatabase(database);
        }

        @Override
        public String recreateDatabase(String database) {
            return postgres().recreateDatabase(database);
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
            postgres().createDatabase(database);
            return postgres().dataSource(database);
        }

        @Override
        public synchronized void close() {
            try {
                if (postgres != null) {
                    postgres.close();
                }
            } finally {
                if (ownBroker != null) {
                    ownBroker.close();
                }
            }
        }
    }
}
