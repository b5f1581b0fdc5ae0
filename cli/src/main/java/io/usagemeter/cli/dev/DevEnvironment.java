package io.usagemeter.cli.dev;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code METER_*} variables of a running dev stack: what {@code .meter/dev.env} exports for
 * the shell, and what the in-process services read (the same, plus their ports and state
 * directories). Services are configured exactly as {@code meter ingest} etc. would be from a shell.
 */
public final class DevEnvironment {

    public static final String DEV_DATABASE = "meter_dev";
    public static final String PROD_DATABASE = "meter_prod";
    public static final String DATABASE_ROLE = "meter";

    private DevEnvironment() {
    }

    /** The variables {@code dev.env} exports, in the order written. */
    public static Map<String, String> shellVariables(DevPorts ports, DevSecrets secrets, boolean withIngest) {
        Map<String, String> vars = new LinkedHashMap<>();
        vars.put("METER_INGEST_URL", "http://localhost:" + ports.ingest());
        vars.put("METER_ENFORCER_URL", "http://localhost:" + ports.enforcer());
        vars.put("METER_AGGREGATOR_METRICS_URL", "http://localhost:" + ports.aggregatorMetrics() + "/metrics");
        vars.put("METER_NOTIFIER_URL", "http://localhost:" + ports.notifier());
        if (withIngest) {
            vars.put("METER_API_KEY", secrets.apiKey());
        }
        vars.put("METER_ADMIN_TOKEN", secrets.adminToken());
        vars.put("METER_ADMIN_JWT_SECRET", secrets.adminJwtSecret());
        vars.put("METER_ADMIN_EMAILS", AdminTokens.DEV_ADMIN_EMAIL);
        vars.put("METER_KAFKA_BOOTSTRAP", "localhost:" + ports.kafka());
        String dev = jdbcUrl(ports, DEV_DATABASE);
        vars.put("METER_DB_DEV_URL", dev);
        vars.put("METER_DB_DEV_USER", DATABASE_ROLE);
        vars.put("METER_DB_DEV_PASSWORD", secrets.meterPassword());
        vars.put("METER_DB_PROD_URL", jdbcUrl(ports, PROD_DATABASE));
        vars.put("METER_DB_PROD_USER", DATABASE_ROLE);
        vars.put("METER_DB_PROD_PASSWORD", secrets.meterPassword());
        // The services' own database is dev's.
        vars.put("METER_DB_URL", dev);
        vars.put("METER_DB_USER", DATABASE_ROLE);
        vars.put("METER_DB_PASSWORD", secrets.meterPassword());
        return vars;
    }

    /**
     * What the in-process services read: the caller's environment (so any {@code METER_*} tuning
     * still applies), overridden by the dev stack's addresses, credentials, ports and state.
     */
    public static Map<String, String> serviceVariables(Map<String, String> processEnv, Map<String, String> shellVariables,
                                                       DevPorts ports, DevDataDir dataDir) {
        Map<String, String> vars = new LinkedHashMap<>(processEnv);
        vars.putAll(shellVariables);
        vars.put("METER_INGEST_PORT", Integer.toString(ports.ingest()));
        vars.put("METER_ENFORCER_PORT", Integer.toString(ports.enforcer()));
        vars.put("METER_ENFORCER_ADVERTISED_URL", shellVariables.get("METER_ENFORCER_URL"));
        // One instance: a standby replica has nowhere to go.
        vars.putIfAbsent("METER_ENFORCER_STANDBY_REPLICAS", "0");
        vars.put("METER_ENFORCER_STATE_DIR", dataDir.streamsState("enforcer").toString());
        vars.put("METER_AGGREGATOR_HTTP_PORT", Integer.toString(ports.aggregatorMetrics()));
        vars.put("METER_AGGREGATOR_STATE_DIR", dataDir.streamsState("aggregator").toString());
        vars.put("METER_NOTIFIER_PORT", Integer.toString(ports.notifier()));
        // Webhooks to a receiver on this machine (curl, a local server) are the point of the dev stack.
        vars.putIfAbsent("METER_WEBHOOK_ALLOW_PRIVATE", "true");
        vars.putIfAbsent("METER_TOKEN_KEYSET", DevTokenKeyset.file(dataDir.root()).toString());
        return vars;
    }

    static String jdbcUrl(DevPorts ports, String database) {
        return "jdbc:postgresql://localhost:" + ports.postgres() + "/" + database;
    }

    /** {@code dev.env}: one {@code export NAME='value'} per line, for {@code source .meter/dev.env}. */
    public static String shellFile(Map<String, String> vars) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Written by `meter dev` on every start: the dev stack's URLs and credentials.\n");
        sb.append("# Load with: source .meter/dev.env   (secrets inside: never commit, never share)\n");
        vars.forEach((name, value) -> sb.append("export ").append(name).append('=').append(shellQuote(value)).append('\n'));
        return sb.toString();
    }

    static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }
}
