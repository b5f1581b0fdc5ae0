package io.usagemeter.enforcer.internal;

import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;

/**
 * Where each user's partition lives (active and standby hosts), as Kafka Streams last answered, kept until the
 * app's next state change. Owners change only in a rebalance, and the app is {@code REBALANCING} while one runs
 * and leaves that state when the assignment is final; both transitions forget everything, and an answer asked
 * before a transition is not kept after it. So a check asks Kafka Streams (which takes two of its locks per
 * call) once per user and rebalance instead of on every request, and gets the answer Kafka Streams would give.
 * Set as the app's state listener before it starts.
 */
public final class PartitionOwners implements KafkaStreams.StateListener {

    static final int MAX_USERS = 100_000;

    private final ConcurrentHashMap<UUID, KeyQueryMetadata> byUser = new ConcurrentHashMap<>();
    private final AtomicLong generation = new AtomicLong();

    @Override
    public void onChange(KafkaStreams.State newState, KafkaStreams.State oldState) {
        generation.incrementAndGet();
        byUser.clear();
    }

    /** The owners remembered for {@code user}, or null: ask Kafka Streams, then {@link #remember}. */
    KeyQueryMetadata known(UUID user) {
        return byUser.get(user);
    }

    /** To pass to {@link #remember}: read before asking Kafka Streams. */
    long generation() {
        return generation.get();
    }

    /** Keeps Kafka Streams' answer for {@code user} unless the app changed state since {@code askedAt}. */
    void remember(UUID user, KeyQueryMetadata where, long askedAt) {
        if (where == null || where == KeyQueryMetadata.NOT_AVAILABLE || generation.get() != askedAt) {
            return;
        }
        if (byUser.size() >= MAX_USERS) {
            byUser.clear();
        }
        byUser.put(user, where);
        if (generation.get() != askedAt) {
            byUser.remove(user, where);
        }
    }
}
