package io.usagemeter.enforcer;

import io.usagemeter.kit.Health;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.QueryableStoreTypes;

/**
 * Whether this instance can answer limit checks: Streams is {@code RUNNING} and every partition of
 * the limit and usage stores it owns is restored and answers a query, as does the plans store. Until
 * then a limit check could still answer 503, so readiness must not say otherwise.
 */
final class EnforcerReadiness {

    private static final String[] USER_STORES = {EnforcerTopology.LIMITS_STORE, EnforcerTopology.USAGE_STORE};

    private EnforcerReadiness() {
    }

    static Health.Result streams(KafkaStreams streams, HostInfo self) {
        if (streams == null) {
            return Health.Result.down("kafka streams has not started");
        }
        KafkaStreams.State state = streams.state();
        if (state != KafkaStreams.State.RUNNING) {
            return Health.Result.down("kafka streams state is " + state);
        }
        try {
            streams.store(StoreQueryParameters.fromNameAndType(EnforcerTopology.PLANS_STORE,
                    QueryableStoreTypes.keyValueStore())).approximateNumEntries();
            Set<Integer> owned = new TreeSet<>();
            for (StreamsMetadata metadata : streams.streamsMetadataForStore(EnforcerTopology.LIMITS_STORE)) {
                if (metadata.hostInfo().equals(self)) {
                    metadata.topicPartitions().forEach(tp -> owned.add(tp.partition()));
                }
            }
            for (String store : USER_STORES) {
                for (int partition : owned) {
                    streams.store(StoreQueryParameters.fromNameAndType(store, QueryableStoreTypes.keyValueStore())
                            .withPartition(partition)).approximateNumEntries();
                }
            }
            return Health.Result.up("RUNNING; partitions " + owned + " restored and queryable");
        } catch (InvalidStateStoreException e) {
            return Health.Result.down("a store is not queryable yet: " + e.getMessage());
        }
    }
}
