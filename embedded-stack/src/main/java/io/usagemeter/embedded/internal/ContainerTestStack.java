package io.usagemeter.embedded.internal;

import io.usagemeter.embedded.TestStack;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.postgresql.ds.PGSimpleDataSource;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;

/** {@link TestStack} on Docker through Testcontainers: apache/kafka (KRaft) and postgres:17. */
public final class ContainerTestStack implements TestStack {

    public static final String KAFKA_IMAGE = "apache/kafka:4.4.0";
    public static final String POSTGRES_IMAGE = "postgres:17";
    private static final Pattern DATABASE_NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

    /** The JVM's shared broker of {@link TestStack#withSharedBroker()}, started on first use. */
    private static KafkaContainer sharedKafka;

    /** Null when the stack uses the JVM's shared broker. */
    private final KafkaContainer ownKafka;
    private PostgreSQLContainer postgres;

    private ContainerTestStack(KafkaContainer ownKafka) {
        this.ownKafka = ownKafka;
    }

    /** A Kafka container of the caller's own (started now) or the JVM's shared one; PostgreSQL on first use. */
    public static TestStack start(boolean sharedBroker) {
        requireDocker();
        if (sharedBroker) {
            return new ContainerTestStack(null);
        }
        KafkaContainer kafka = new KafkaContainer(KAFKA_IMAGE);
        kafka.start();
        return new ContainerTestStack(kafka);
    }

    /** {@code bootstrap.servers} of the JVM's shared Kafka container, started on first use. */
    public static String sharedKafkaBootstrap() {
        requireDocker();
        return sharedKafka().getBootstrapServers();
    }

    private KafkaContainer kafka() {
        return ownKafka != null ? ownKafka : sharedKafka();
    }

    private synchronized PostgreSQLContainer postgres() {
        if (postgres == null) {
            PostgreSQLContainer started = new PostgreSQLContainer(POSTGRES_IMAGE)
                    .withUsername("meter")
                    .withPassword(UUID.randomUUID().toString().replace("-", ""));
            started.start();
            postgres = started;
        }
        return postgres;
    }

    private static synchronized KafkaContainer sharedKafka() {
        if (sharedKafka == null) {
            KafkaContainer kafka = new KafkaContainer(KAFKA_IMAGE);
            kafka.start();
            Runtime.getRuntime().addShutdownHook(new Thread(kafka::stop, "shared-kafka-container-stop"));
            sharedKafka = kafka;
        }
        return sharedKafka;
    }

    private static void requireDocker() {
        boolean docker;
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (NoClassDefFoundError missing) {
            throw skip("-Dmeter.test.stack=containers needs testcontainers-kafka and testcontainers-postgresql on the"
                    + " test classpath; skipping");
        }
        if (!docker) {
            throw skip("-Dmeter.test.stack=containers: no Docker engine found; skipping the tests that need Kafka and PostgreSQL");
        }
    }

    @Override
    public String kafkaBootstrap() {
        return kafka().getBootstrapServers();
    }

    @Override
    public String jdbcUrl(String database) {
        if (!DATABASE_NAME.matcher(database).matches()) {
            throw new IllegalArgumentException("not a plain database name: " + database);
        }
        try (Connection c = source(postgres().getDatabaseName()).getConnection(); Statement st = c.createStatement()) {
            if (!st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + database + "'").next()) {
                st.execute("CREATE DATABASE " + database);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not create database " + database + ": " + e.getMessage(), e);
        }
        return urlOf(database);
    }

    @Override
    public String recreateDatabase(String database) {
        if (!DATABASE_NAME.matcher(database).matches()) {
            throw new IllegalArgumentException("not a plain database name: " + database);
        }
        try (Connection c = source(postgres().getDatabaseName()).getConnection(); Statement st = c.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
            st.execute("CREATE DATABASE " + database);
        } catch (SQLException e) {
            throw new IllegalStateException("could not recreate database " + database + ": " + e.getMessage(), e);
        }
        return urlOf(database);
    }

    @Override
    public String user() {
        return postgres().getUsername();
    }

    @Override
    public String password() {
        return postgres().getPassword();
    }

    @Override
    public DataSource dataSource(String database) {
        jdbcUrl(database);
        return source(database);
    }

    @Override
    public synchronized void close() {
        try {
            if (postgres != null) {
                postgres.stop();
            }
        } finally {
            if (ownKafka != null) {
                ownKafka.stop();
            }
        }
    }

    private String urlOf(String database) {
        return "jdbc:postgresql://" + postgres().getHost() + ":" + postgres().getMappedPort(5432) + "/" + database;
    }

    private DataSource source(String database) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(urlOf(database));
        ds.setUser(postgres().getUsername());
        ds.setPassword(postgres().getPassword());
        return ds;
    }

    /** JUnit's assumption failure when JUnit is there (the test is skipped, not failed), else a plain error. */
    public static RuntimeException skip(String reason) {
        System.err.println(reason);
        try {
            return (RuntimeException) Class.forName("org.opentest4j.TestAbortedException")
                    .getConstructor(String.class).newInstance(reason);
        } catch (ReflectiveOperationException notJunit) {
            return new IllegalStateException(reason);
        }
    }
}
