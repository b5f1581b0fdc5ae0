package io.usagemeter.enforcer.internal;

import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StreamsMetadata;
import org.apache.kafka.streams.state.HostInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which instance holds each partition of a store (active and standbys), as a table built once from Kafka Streams'
 * metadata and kept until the app's next state change. Owners change only in a rebalance, and the app is
 * {@code REBALANCING} while one runs and leaves that state when the assignment is final; both transitions drop
 * the table, and a table built before a transition is not kept after it. A user's owners are then a hash of the
 * user id and an array lookup, with no call into Kafka Streams (whose {@code queryMetadataForKey} takes its
 * metadata lock on every call).
 *
 * <p>The table answers what {@code queryMetadataForKey} answers: the partition from the default partitioner over
 * the store's source topics' partition count, the active host that holds the partition of one of those topics, and
 * the hosts that hold it as a standby. Each new table is checked against {@code queryMetadataForKey} for a few
 * users; if they differ (source topics not as expected), owners are asked of Kafka Streams on every request.
 * Set as the app's state listener before it starts.
 */
public final class PartitionOwners implements KafkaStreams.StateListener {

    private static final Logger LOG = LoggerFactory.getLogger(PartitionOwners.class);
    private static final List<UUID> PROBES = List.of(
            UUID.fromString("00000000-0000-4000-8000-000000000000"),
            UUID.fromString("7d1a2c4e-9b3f-4e61-8a20-5c6d7e8f9a0b"),
            UUID.fromString("c0ffee00-1234-4abc-9def-0123456789ab"),
            UUID.fromString("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"),
            UUID.fromString("f0e1d2c3-b4a5-4968-8776-655443322110"),
            UUID.fromString("5e5e5e5e-0101-4202-8303-040404040404"));

    private final String store;
    private final Set<String> sourceTopics;
    private final AtomicLong generation = new AtomicLong();
    private volatile Table table;

    /**
     * @param store the store whose partitions are looked up
     * @param sourceTopics the topics its sub-topology reads (internal ones with the application id's prefix)
     */
    public PartitionOwners(String store, Collection<String> sourceTopics) {
        this.store = store;
        this.sourceTopics = Set.copyOf(sourceTopics);
    }

    @Override
    public void onChange(KafkaStreams.State newState, KafkaStreams.State oldState) {
        generation.incrementAndGet();
        table = null;
    }

    /**
     * Where {@code user}'s partition lives.
     *
     * @return {@link KeyQueryMetadata#NOT_AVAILABLE} while Kafka Streams knows no owners yet (starting or
     *     rebalancing); a host equal to {@link HostInfo#unavailable()} when no instance holds the partition
     * @throws IllegalStateException when the app is not running (as {@code queryMetadataForKey})
     */
    public KeyQueryMetadata of(UUID user, KafkaStreams streams) {
        Table current = table;
        if (current == null) {
            current = build(streams);
            if (current == null) {
                return KeyQueryMetadata.NOT_AVAILABLE;
            }
        }
        if (current.byPartition() == null) {
            return streams.queryMetadataForKey(store, user.toString(), Serdes.String().serializer());
        }
        return current.byPartition()[partition(user, current.byPartition().length)];
    }

    /** Moves on every state change of the app. */
    long generation() {
        return generation.get();
    }

    /** The default partitioner's partition of the user id's string key. */
    static int partition(UUID user, int partitions) {
        return Utils.toPositive(Utils.murmur2(user.toString().getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    /** The table of the current metadata, kept unless the app changed state meanwhile; null when none is known. */
    private Table build(KafkaStreams streams) {
        long askedAt = generation.get();
        Table built = tableOf(streams.streamsMetadataForStore(store));
        if (built == null) {
            return null;
        }
        for (UUID probe : PROBES) {
            KeyQueryMetadata expected = streams.queryMetadataForKey(store, probe.toString(), Serdes.String().serializer());
            KeyQueryMetadata tabled = built.byPartition()[partition(probe, built.byPartition().length)];
            if (!tabled.equals(expected)) {
                if (generation.get() == askedAt) {
                    LOG.warn("the partition table of {} says {} where Kafka Streams says {}: owners are asked of"
                            + " Kafka Streams on every request until the next rebalance", store, tabled, expected);
                }
                built = new Table(null);
                break;
            }
        }
        if (generation.get() == askedAt) {
            table = built;
            if (generation.get() != askedAt) {
                table = null;
            }
        }
        return built;
    }

    /** The owners of every partition, as {@code queryMetadataForKey} finds them in {@code metadata}. */
    Table tableOf(Collection<StreamsMetadata> metadata) {
        int partitions = 0;
        for (StreamsMetadata host : metadata) {
            partitions = Math.max(partitions, 1 + maxPartition(host.topicPartitions()));
            partitions = Math.max(partitions, 1 + maxPartition(host.standbyTopicPartitions()));
        }
        if (partitions == 0) {
            return null;
        }
        KeyQueryMetadata[] byPartition = new KeyQueryMetadata[partitions];
        for (int partition = 0; partition < partitions; partition++) {
            HostInfo active = HostInfo.unavailable();
            Set<HostInfo> standbys = new HashSet<>();
            for (StreamsMetadata host : metadata) {
                if (host.stateStoreNames().contains(store) && holds(host.topicPartitions(), partition)) {
                    active = host.hostInfo();
                }
                if (host.standbyStateStoreNames().contains(store) && holds(host.standbyTopicPartitions(), partition)) {
                    standbys.add(host.hostInfo());
                }
            }
            byPartition[partition] = new KeyQueryMetadata(active, standbys, partition);
        }
        return new Table(byPartition);
    }

    private int maxPartition(Set<TopicPartition> partitions) {
        int max = -1;
        for (TopicPartition tp : partitions) {
            if (sourceTopics.contains(tp.topic())) {
                max = Math.max(max, tp.partition());
            }
        }
        return max;
    }

    private boolean holds(Set<TopicPartition> partitions, int partition) {
        for (TopicPartition tp : partitions) {
            if (tp.partition() == partition && sourceTopics.contains(tp.topic())) {
                return true;
            }
        }
        return false;
    }

    /** The owners by partition; null when owners must be asked of Kafka Streams per request. */
    record Table(KeyQueryMetadata[] byPartition) {
    }
}
