package io.usagemeter.cli.dev;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.aggregator.AggregatorService;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.cli.replay.AggregatorReplayRunner;
import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import io.usagemeter.notifier.NotifierConfig;
import io.usagemeter.notifier.NotifierService;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * The services {@code meter dev} runs in-process, in dependency order. Each one is started from
 * the same {@code METER_*} variables {@code meter <service>} reads, so the dev stack runs exactly
 * what production runs.
 */
final class DevServices {

    static final String INGEST = "ingest";
    static final String AGGREGATOR = "aggregator";
    static final String ENFORCER = "enforcer";
    static final String NOTIFIER = "notifier";

    /** Starts one service from its variables; closing the result stops it. */
    @FunctionalInterface
    interface Starter {
        AutoCloseable start(Map<String, String> env) throws Exception;
    }

    /** @param port its HTTP port (API and /metrics) from the dev ports */
    record Service(String name, PortOf port, String role, Starter starter) {
        String url(DevPorts ports) {
            return "http://localhost:" + port.of(ports);
        }
    }

    @FunctionalInterface
    interface PortOf {
        int of(DevPorts ports);
    }

    private DevServices() {
    }

    /** Every service, in start order: ingest first (apps can post while the others start), the notifier after the enforcer. */
    static List<Service> all() {
        return List.of(
                new Service(INGEST, DevPorts::ingest, "POST /v1/events, POST /v1/referrals",
                        env -> IngestService.create(IngestConfig.fromEnv(env)).start()),
                new Service(AGGREGATOR, DevPorts::aggregatorMetrics, "dedupe, monthly summaries, sink to meter_dev (health, metrics)",
                        env -> new AggregatorService(AggregatorConfig.fromEnv(env), Clock.systemUTC(),
                                SinkConfig.fromEnvironment(env)).start()),
                new Service(ENFORCER, DevPorts::enforcer, "GET /v1/limits/{user_id}, /v1/usage/{user_id}, /v1/admin/*",
                        env -> EnforcerService.create(EnforcerConfig.fromEnv(env), AggregatorReplayRunner.fromEnv(env))
                                .start()),
                new Service(NOTIFIER, DevPorts::notifier, "limit events as signed webhooks, /v1/admin/webhooks",
                        env -> NotifierService.create(NotifierConfig.fromEnv(DevTokenKeyset.ensure(env))).start()));
    }
}
