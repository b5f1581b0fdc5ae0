package io.usagemeter.schema.streams;

import java.time.Duration;
import java.util.function.Supplier;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.ProcessorStateException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a Kafka Streams app whose local state may be unreadable, and recovers it from the changelogs.
 *
 * <p>Under exactly-once, Kafka Streams wipes a task's stores after an unclean stop and restores them
 * from their changelogs. A process killed <em>while</em> it wipes them leaves a RocksDB directory
 * without its {@code MANIFEST} or {@code CURRENT} file, and since Kafka 4.x opens the stores found on
 * disk in {@link KafkaStreams#start()}, every later start then fails with
 * {@code ProcessorStateException: Error opening store}. The local state is a cache of the changelogs,
 * so the recovery is Kafka's own: close that instance, {@link KafkaStreams#cleanUp()} on a fresh one
 * (before it starts, as documented) and start it. A start that succeeds never cleans anything.
 */
public final class LocalStateRecovery {

    private static final Logger LOG = LoggerFactory.getLogger(LocalStateRecovery.class);
    private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

    private LocalStateRecovery() {
    }

    /**
     * Starts an instance from {@code instances}; if its local state cannot be opened, starts a second
     * one on an emptied state directory.
     *
     * @param instances builds a new, not yet started instance (handlers and listeners set) each time it is called
     * @param name what the log calls the app
     * @return the started instance
     * @throws ProcessorStateException when the second start fails too (e.g. the state directory is not writable)
     */
    public static KafkaStreams start(Supplier<KafkaStreams> instances, String name) {
        KafkaStreams first = instances.get();
        try {
            first.start();
            return first;
        } catch (ProcessorStateException e) {
            LOG.warn("{}: its local state cannot be opened ({}); removing it, the stores are restored from their"
                    + " changelogs", name, rootMessage(e));
            first.close(CLOSE_TIMEOUT);
        }
        KafkaStreams second = instances.get();
        second.cleanUp();
        second.start();
        return second;
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == e ? e.getMessage() : e.getMessage() + ": " + root.getMessage();
    }
}
