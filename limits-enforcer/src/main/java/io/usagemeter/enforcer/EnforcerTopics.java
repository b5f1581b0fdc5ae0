package io.usagemeter.enforcer;

import io.usagemeter.schema.serde.JsonSerde;
import io.usagemeter.schema.topics.Topic;
import io.usagemeter.schema.topics.Topic.CleanupPolicy;
import io.usagemeter.schema.topics.TopicSettings;
import java.util.Map;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/** The enforcer's own topic. */
public final class EnforcerTopics {

    public static final Serde<Plan> PLAN_SERDE = new JsonSerde<>(Plan.class);

    /**
     * The plans of {@code subscription_limits} keyed by plan name: compacted, one partition (a handful of
     * rows read whole by every instance as a global store), published from PostgreSQL at start.
     */
    public static final Topic<String, Plan> PLANS = new Topic<>("meter.plans", Serdes.String(), PLAN_SERDE,
            1, CleanupPolicy.COMPACT, null, 1, Map.of());

    private EnforcerTopics() {
    }

    public static Topic<String, Plan> plans(TopicSettings settings) {
        return PLANS.withMinInsyncReplicas(settings.minInsyncReplicas());
    }
}
