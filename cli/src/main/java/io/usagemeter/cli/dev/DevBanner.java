package io.usagemeter.cli.dev;

import io.usagemeter.schema.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** The few lines a newcomer reads: where each service is, how to load the credentials, one event to paste. */
final class DevBanner {

    /** The user of the sample event, so the sample limit lookup finds it. */
    static final UUID SAMPLE_USER = UUID.fromString("7c9e6679-7425-40de-944b-e07fc1f90ae7");

    private final DevPorts ports;
    private final List<DevServices.Service> services;
    private final DevDataDir dataDir;
    private final String schemaVersion;
    private final Map<String, String> shellVars;
    private final String signInToken;

    /** @param signInToken a short-lived admin token for the admin panel's sign-in link */
    DevBanner(DevPorts ports, List<DevServices.Service> services, DevDataDir dataDir, String schemaVersion,
              Map<String, String> shellVars, String signInToken) {
        this.ports = ports;
        this.services = services;
        this.dataDir = dataDir;
        this.schemaVersion = schemaVersion;
        this.shellVars = shellVars;
        this.signInToken = signInToken;
    }

    void print(PrintWriter out, Duration startup) {
        out.println();
        out.printf("usage-meter dev stack is up (%.1f s). Data in %s%n", startup.toMillis() / 1000.0, display(dataDir.root()));
        out.println();
        for (DevServices.Service service : services) {
            out.printf("  %-11s %-24s %s%n", service.name(), service.url(ports), service.role());
            out.printf("  %-11s metrics %s%n", "", service.url(ports) + "/metrics");
        }
        out.printf("  %-11s %-24s topics %s%n", "kafka", shellVars.get("METER_KAFKA_BOOTSTRAP"),
                String.join(", ", Topics.all().stream().map(t -> t.name()).toList()));
        out.printf("  %-11s %-24s databases %s and %s (role %s), schema %s%n", "postgresql", "localhost:" + ports.postgres(),
                DevEnvironment.DEV_DATABASE, DevEnvironment.PROD_DATABASE, DevEnvironment.DATABASE_ROLE, schemaVersion);
        out.println();
        String env = display(dataDir.devEnv());
        out.println("URLs, API key, admin token and database credentials (mode 600):");
        out.println("  source " + env + "        # then every meter verb and curl below works");
        out.println();
        out.println("Post an event:");
        out.println("  curl -sS -X POST \"$METER_INGEST_URL/v1/events\" -H \"Authorization: Bearer $METER_API_KEY\" \\");
        out.println("    -H 'Content-Type: application/json' -d '" + sampleEvent() + "'");
        out.println("Read the user's limit:");
        out.println("  curl -sS \"$METER_ENFORCER_URL/v1/limits/" + SAMPLE_USER + "\" -H \"Authorization: Bearer $METER_API_KEY\"");
        out.println("Open the admin panel (the link signs you in for " + AdminTokens.SIGN_IN_LIFETIME.toHours()
                + " h; `meter admin token` prints a new token):");
        out.println("  " + signInUrl(shellVars.get("METER_ENFORCER_URL"), signInToken));
        out.println("Check the schema of both databases:");
        out.println("  ./meter schema status");
        out.println();
        out.println("Ctrl-C stops everything; data stays for the next start (--fresh wipes it).");
    }

    /** The panel's sign-in link: the token in the fragment, which the browser never sends to a server. */
    static String signInUrl(String enforcerUrl, String token) {
        return enforcerUrl + "/admin/#token=" + token;
    }

    static String sampleEvent() {
        return "{\"event_id\":\"evt-'\"$(date +%s%N)\"'\",\"user_id\":\"" + SAMPLE_USER + "\","
                + "\"occurred_at\":\"'\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"'\",\"provider\":\"openai\","
                + "\"endpoint\":\"/v1/chat/completions\",\"method\":\"POST\",\"status_code\":200,"
                + "\"response_time_ms\":420,\"request_bytes\":512,\"response_bytes\":2048,\"tokens\":350,\"units\":1}";
    }

    /** Relative to the working directory when inside it: shorter, and what the user typed. */
    static String display(Path path) {
        Path cwd = Path.of("").toAbsolutePath();
        return path.startsWith(cwd) ? cwd.relativize(path).toString() : path.toString();
    }

}
