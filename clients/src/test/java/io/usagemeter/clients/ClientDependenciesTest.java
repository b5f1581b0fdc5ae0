package io.usagemeter.clients;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.usagemeter.clients.ClientRuntime.Artifact;
import io.usagemeter.enforcer.client.LimitClient;
import io.usagemeter.enforcer.client.LimitDecision;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * An app that links {@code clients} to emit usage or check limits inherits the JDK's HTTP client,
 * Jackson, kafka-clients and the contracts, and none of the servers' libraries.
 */
class ClientDependenciesTest {

    /** The groups an app may inherit (kafka-clients brings its compression codecs). */
    private static final Set<String> ALLOWED_GROUPS = Set.of(
            "com.fasterxml.jackson.core", "com.fasterxml.jackson.datatype",
            "org.apache.kafka", "com.github.luben", "at.yawk.lz4", "org.xerial.snappy",
            "io.cloudevents", "org.slf4j");

    /** The modules of ours that are contracts, not servers. */
    private static final Set<String> ALLOWED_MODULES = Set.of("io.usagemeter:contracts", "io.usagemeter:settings");

    private static final List<String> SERVER_GROUPS = List.of("io.javalin", "org.eclipse.jetty", "org.flywaydb",
            "org.jooq", "com.google.crypto.tink", "org.postgresql", "com.zaxxer", "org.rocksdb", "io.micrometer",
            "com.nimbusds");

    @Test
    void anAppInheritsNoServerDatabaseOrCryptoLibrary() {
        List<Artifact> inherited = ClientRuntime.inherited();

        assertThat(inherited).extracting(Artifact::coordinates)
                .contains("io.usagemeter:contracts", "com.fasterxml.jackson.core:jackson-databind",
                        "org.apache.kafka:kafka-clients");
        assertThat(inherited).as("server, database and crypto libraries")
                .noneMatch(a -> SERVER_GROUPS.stream().anyMatch(g -> a.groupId().equals(g) || a.groupId().startsWith(g + ".")));
        assertThat(inherited).as("usage-meter modules other than the contracts")
                .filteredOn(a -> a.groupId().equals("io.usagemeter"))
                .extracting(Artifact::coordinates).allMatch(ALLOWED_MODULES::contains);
        assertThat(inherited).as("Kafka beyond kafka-clients (Streams, the broker, tools)")
                .filteredOn(a -> a.groupId().equals("org.apache.kafka"))
                .extracting(Artifact::artifactId).containsOnly("kafka-clients");
        assertThat(inherited).as("anything not chosen for the clients")
                .filteredOn(a -> !a.groupId().equals("io.usagemeter"))
                .allMatch(a -> ALLOWED_GROUPS.contains(a.groupId()), "in " + ALLOWED_GROUPS);
    }

    /** Micrometer is the app's to provide: LimitClient records into the registry it is given. */
    @Test
    void limitClientRecordsIntoTheAppsRegistry() throws Exception {
        assertThat(ClientRuntime.all()).noneMatch(a -> a.groupId().startsWith("io.micrometer"));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        LimitClient client = LimitClient.builder(URI.create("http://localhost:" + unusedPort()))
                .timeout(Duration.ofSeconds(2)).meterRegistry(registry).build();

        LimitDecision decision = client.check(UUID.randomUUID());

        assertThat(decision.allowed()).isTrue();
        assertThat(decision.source()).isEqualTo(LimitDecision.Source.FAIL_POLICY);
        assertThat(registry.get("meter.limit.client.request").tag("outcome", "unreachable").timer().count()).isEqualTo(1);
        assertThat(registry.get("meter.limit.client.decisions").tag("source", "fail_policy").tag("allowed", "true")
                .counter().count()).isEqualTo(1.0);
    }

    /**
     * LimitClient in a class loader holding only what an app inherits (no Micrometer, no test library):
     * with no enforcer answering, the fail policy decides. Methods are linked one by one, as an app's
     * compiled calls are ({@code Class.getMethod} would resolve every signature of the class, the
     * registry-taking one included).
     */
    @Test
    void limitClientRunsOnWhatAnAppInherits() throws Throwable {
        try (URLClassLoader app = ClientRuntime.appClassLoader()) {
            assertThatThrownBy(() -> app.loadClass("io.micrometer.core.instrument.MeterRegistry"))
                    .isInstanceOf(ClassNotFoundException.class);
            Class<?> clientClass = app.loadClass("io.usagemeter.enforcer.client.LimitClient");
            assertThat(clientClass.getClassLoader()).isSameAs(app);
            Class<?> builderClass = app.loadClass("io.usagemeter.enforcer.client.LimitClient$Builder");
            Class<?> policyClass = app.loadClass("io.usagemeter.enforcer.client.LimitClient$FailPolicy");
            Class<?> decisionClass = app.loadClass("io.usagemeter.enforcer.client.LimitDecision");
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();

            Object builder = lookup.findStatic(clientClass, "builder", MethodType.methodType(builderClass, URI.class))
                    .invoke(URI.create("http://localhost:" + unusedPort()));
            lookup.findVirtual(builderClass, "failPolicy", MethodType.methodType(builderClass, policyClass))
                    .invoke(builder, enumConstant(policyClass, "CLOSED"));
            lookup.findVirtual(builderClass, "timeout", MethodType.methodType(builderClass, Duration.class))
                    .invoke(builder, Duration.ofSeconds(2));
            Object client = lookup.findVirtual(builderClass, "build", MethodType.methodType(clientClass)).invoke(builder);

            Object decision = lookup.findVirtual(clientClass, "check", MethodType.methodType(decisionClass, UUID.class))
                    .invoke(client, UUID.randomUUID());
            assertThat(lookup.findVirtual(decisionClass, "allowed", MethodType.methodType(boolean.class)).invoke(decision))
                    .isEqualTo(false);
            assertThat(decisionClass.getRecordComponents()).isNotEmpty();
            assertThat(String.valueOf(decision)).contains("source=FAIL_POLICY");
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static Object enumConstant(Class<?> type, String name) {
        return Enum.valueOf((Class) type, name);
    }

    private static int unusedPort() throws java.io.IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
