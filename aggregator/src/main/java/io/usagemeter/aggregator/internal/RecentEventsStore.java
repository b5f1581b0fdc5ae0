package io.usagemeter.aggregator.internal;

import java.time.Duration;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.processor.StateStore;
import org.apache.kafka.streams.processor.StateStoreContext;
import org.apache.kafka.streams.query.Position;
import org.apache.kafka.streams.query.PositionBound;
import org.apache.kafka.streams.query.Query;
import org.apache.kafka.streams.query.QueryConfig;
import org.apache.kafka.streams.query.QueryResult;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.internals.CacheFlushListener;
import org.apache.kafka.streams.state.internals.CachedStateStore;

/**
 * The task's {@link RecentEvents} in memory, over a persistent key-value store that holds it as a few
 * records per commit.
 *
 * <p>The memory has to reach the store before every commit, or a commit could cover events whose
 * memory a crash then loses. Kafka Streams flushes every {@link CachedStateStore} just before it
 * commits (its record caches work the same way), and that is the one hook it offers a store: so this
 * store declares itself one and writes the memory's changes in {@link #flushCache()}. Their changelog
 * records are sent there, in the task's transaction. Kafka is pinned in the parent POM; the
 * exactness tests on the real broker (a restart inside a commit interval) guard the hook.
 */
public final class RecentEventsStore implements StateStore, CachedStateStore<String, byte[]> {

    private final KeyValueStore<String, byte[]> store;
    private final Duration window;
    private final boolean live;
    private RecentEvents memory;

    private RecentEventsStore(KeyValueStore<String, byte[]> store, Duration window, boolean live) {
        this.store = store;
        this.window = window;
        this.live = live;
    }

    /**
     * A builder of the store {@code name}, remembering events for {@code window}; {@code live}: logged, and
     * keeping the months to publish (a replay's rebuild neither logs nor publishes).
     */
    public static StoreBuilder<RecentEventsStore> builder(String name, Duration window, boolean live) {
        return new Builder(name, window, live);
    }

    /** The memory as of the last commit plus what this task did since; read from the store on first use. */
    public RecentEvents memory() {
        if (memory == null) {
            memory = RecentEvents.load(store, window, live);
        }
        return memory;
    }

    @Override
    public void flushCache() {
        if (memory != null) {
            memory.writeTo(store);
        }
    }

    /** Streams drops uncommitted work (a task closed dirty): the memory is read again from the store. */
    @Override
    public void clearCache() {
        memory = null;
    }

    @Override
    public boolean setFlushListener(CacheFlushListener<String, byte[]> listener, boolean sendOldValues) {
        return false;
    }

    @Override
    public String name() {
        return store.name();
    }

    @Override
    public void init(StateStoreContext context, StateStore root) {
        memory = null;
        store.init(context, root);
    }

    @Override
    public void flush() {
        store.flush();
    }

    @Override
    public void commit(Map<TopicPartition, Long> changelogOffsets) {
        store.commit(changelogOffsets);
    }

    @Override
    public Long committedOffset(TopicPartition partition) {
        return store.committedOffset(partition);
    }

    @Override
    public boolean managesOffsets() {
        return store.managesOffsets();
    }

    @Override
    public void close() {
        memory = null;
        store.close();
    }

    @Override
    public boolean persistent() {
        return store.persistent();
    }

    @Override
    public boolean isOpen() {
        return store.isOpen();
    }

    @Override
    public <R> QueryResult<R> query(Query<R> query, PositionBound positionBound, QueryConfig config) {
        return store.query(query, positionBound, config);
    }

    @Override
    public Position getPosition() {
        return store.getPosition();
    }

    @Override
    public long approximateNumUncommittedBytes() {
        return store.approximateNumUncommittedBytes();
    }

    private static final class Builder implements StoreBuilder<RecentEventsStore> {
        private final Duration window;
        private final boolean live;
        private StoreBuilder<KeyValueStore<String, byte[]>> store;

        Builder(String name, Duration window, boolean live) {
            this.window = window;
            this.live = live;
            this.store = Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), Serdes.String(),
                    Serdes.ByteArray()).withCachingDisabled();
            if (!live) {
                store = store.withLoggingDisabled();
            }
        }

        @Override
        public StoreBuilder<RecentEventsStore> withCachingEnabled() {
            throw new UnsupportedOperationException("the recent events are their own cache");
        }

        @Override
        public StoreBuilder<RecentEventsStore> withCachingDisabled() {
            return this;
        }

        @Override
        public StoreBuilder<RecentEventsStore> withLoggingEnabled(Map<String, String> config) {
            store = store.withLoggingEnabled(config);
            return this;
        }

        @Override
        public StoreBuilder<RecentEventsStore> withLoggingDisabled() {
            store = store.withLoggingDisabled();
            return this;
        }

        @Override
        public RecentEventsStore build() {
            return new RecentEventsStore(store.build(), window, live);
        }

        @Override
        public Map<String, String> logConfig() {
            return store.logConfig();
        }

        @Override
        public boolean loggingEnabled() {
            return store.loggingEnabled();
        }

        @Override
        public String name() {
            return store.name();
        }
    }
}
