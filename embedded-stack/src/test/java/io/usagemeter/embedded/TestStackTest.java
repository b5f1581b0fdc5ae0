package io.usagemeter.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Runs on the embedded stack by default and on Docker with {@code -Dmeter.test.stack=containers}. */
class TestStackTest {

    private static TestStack stack;

    @BeforeAll
    static void start() {
        stack = TestStack.start();
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void kafkaAnswersOnItsBootstrapAddress() throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafkaBootstrap());
        try (Admin admin = Admin.create(props)) {
            assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
        }
    }

    @Test
    void databasesAreCreatedOnFirstUseAndLogInWithTheStacksCredentials() throws Exception {
        String url = stack.jdbcUrl("stack_test");
        assertThat(stack.jdbcUrl("stack_test")).isEqualTo(url);
        Properties props = new Properties();
        props.setProperty("user", stack.user());
        props.setProperty("password", stack.password());
        try (Connection c = DriverManager.getConnection(url, props);
             ResultSet rs = c.createStatement().executeQuery("SELECT current_database()")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("stack_test");
        }
        try (Connection c = stack.dataSource("stack_test").getConnection()) {
            assertThat(c.isValid(5)).isTrue();
        }
    }
}
