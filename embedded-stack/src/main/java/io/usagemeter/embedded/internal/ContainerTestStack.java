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

    private final KafkaContainer kafka;
    private final PostgreSQLContainer postgres;

    private ContainerTestStack(KafkaContainer kafka, PostgreSQLContainer postgres) {
        this.kafka = kafka;
        this.postgres = postgres;
    }

    public static TestStack start() {
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
        KafkaContainer kafka = new KafkaContainer(KAFKA_IMAGE);
        PostgreSQLContainer postgres = new PostgreSQLContainer(POSTGRES_IMAGE)
                .withUsername("meter")
                .withPassword(UUID.randomUUID().toString().replace("-", ""));
        try {
            kafka.start();
            postgres.start();
        } catch (RuntimeException e) {
            postgres.stop();
            kafka.stop();
            throw e;
        }
        return new ContainerTestStack(kafka, postgres);
    }

    @Override
    public String kafkaBootstrap() {
        return kafka.getBootstrapServers();
    }

    @Override
    public String jdbcUrl(String database) {
        if (!DATABASE_NAME.matcher(database).matches()) {
            throw new IllegalArgumentException("not a plain database name: " + database);
        }
        try (Connection c = source(postgres.getDatabaseName()).getConnection(); Statement st = c.createStatement()) {
            if (!st.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + database + "'").next()) {
                st.execute("CREATE DATABASE " + database);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not create database " + database + ": " + e.getMessage(), e);
        }
        return urlOf(database);
    }

    @Override
    public String user() {
        return postgres.getUsername();
    }

    @Override
    public String password() {
        return postgres.getPassword();
    }

    @Override
    public DataSource dataSource(String database) {
        jdbcUrl(database);
        return source(database);
    }

    @Override
    public void close() {
        try {
            postgres.stop();
        } finally {
            kafka.stop();
        }
    }

    private String urlOf(String database) {
        return "jdbc:postgresql://" + postgres.getHost() + ":" + postgres.getMappedPort(5432) + "/" + database;
    }

    private DataSource source(String database) {
        PGSimpleDataSource ds = new PGSimpleDataSource();
        ds.setUrl(urlOf(database));
        ds.setUser(postgres.getUsername());
        ds.setPassword(postgres.getPassword());
        return ds;
    }

    /** JUnit's assumption failure when JUnit is there (the test is skipped, not failed), else a plain error. */
    private static RuntimeException skip(String reason) {
        System.err.println(reason);
        try {
            return (RuntimeException) Class.forName("org.opentest4j.TestAbortedException")
                    .getConstructor(String.class).newInstance(reason);
        } catch (ReflectiveOperationException notJunit) {
            return new IllegalStateException(reason);
        }
    }
}
