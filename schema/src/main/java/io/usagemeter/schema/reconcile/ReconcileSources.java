package io.usagemeter.schema.reconcile;

import io.usagemeter.schema.config.MeterEnvironment;
import java.util.Map;
import java.util.Objects;

/**
 * Whose progress explains a difference: the aggregator's and the enforcer's Kafka Streams application
 * ids (their consumer groups) and the sink's name in {@code sink_offsets}. The same variables, with the
 * same defaults, as the services read.
 */
public record ReconcileSources(String aggregatorGroup, String enforcerGroup, String sinkName) {

    public static final String DEFAULT_AGGREGATOR_GROUP = "usage-meter-aggregator";
    public static final String DEFAULT_ENFORCER_GROUP = "usage-meter-enforcer";
    public static final String DEFAULT_SINK_NAME = "meter-usage-sink";

    public ReconcileSources {
        Objects.requireNonNull(aggregatorGroup, "aggregatorGroup");
        Objects.requireNonNull(enforcerGroup, "enforcerGroup");
        Objects.requireNonNull(sinkName, "sinkName");
    }

    /** {@code METER_AGGREGATOR_APPLICATION_ID}, {@code METER_ENFORCER_APPLICATION_ID}, {@code METER_SINK_NAME}. */
    public static ReconcileSources fromEnv(Map<String, String> env) {
        MeterEnvironment e = MeterEnvironment.of(env);
        return new ReconcileSources(
                e.string("METER_AGGREGATOR_APPLICATION_ID", DEFAULT_AGGREGATOR_GROUP),
                e.string("METER_ENFORCER_APPLICATION_ID", DEFAULT_ENFORCER_GROUP),
                e.string("METER_SINK_NAME", DEFAULT_SINK_NAME));
    }

    public ReconcileSources withEnforcerGroup(String group) {
        return new ReconcileSources(aggregatorGroup, group, sinkName);
    }
}
