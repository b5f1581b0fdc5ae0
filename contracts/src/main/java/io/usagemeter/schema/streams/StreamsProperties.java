package io.usagemeter.schema.streams;

import io.usagemeter.schema.config.StreamsSettings;
import io.usagemeter.schema.topics.Topics;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.streams.StreamsConfig;

/** The Kafka Streams properties both apps of the meter share, derived from their settings in this one place. */
public final class StreamsProperties {

    /**
     * The stream thread's {@code max.poll.interval.ms}, lowered from the consumer's 300 s. Under the classic group
     * protocol it is also the rebalance timeout: how long the coordinator holds a rebalance for a member that does not
     * rejoin, and how long a thread that stops polling keeps its tasks. It stays above the longest single call a
     * healthy stream thread blocks in between two polls (a producer's {@code max.block.ms} or a consumer's
     * {@code default.api.timeout.ms}, 60 s each), so a slow broker does not by itself push a thread out of the group.
     */
    public static final int MAX_POLL_INTERVAL_MS = 90_000;

    private StreamsProperties() {
    }

    /**
     * Exactly-once (v2), every internal resource named explicitly, no default serdes (every source, sink and store
     * names its own from the topic registry), records that cannot be read or processed to the dead-letter topic
     * (KIP-1034: the app adds its handlers), a crashed instance's partitions moved after 10 s instead of 45 s, a rebalance
     * held for a member that does not rejoin for at most {@link #MAX_POLL_INTERVAL_MS} instead of 300 s, and a new
     * application reading its input from the beginning.
     */
    public static Properties exactlyOnce(String bootstrapServers, StreamsSettings settings) {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, settings.applicationId());
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.ENSURE_EXPLICIT_INTERNAL_RESOURCE_NAMING_CONFIG, true);
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, settings.commitInterval().toMillis());
        p.put(StreamsConfig.STATE_DIR_CONFIG, settings.stateDir().toString());
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, settings.streamThreads());
        p.put(StreamsConfig.ERRORS_DEAD_LETTER_QUEUE_TOPIC_NAME_CONFIG, Topics.DEAD_LETTER.name());
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000);
        p.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG), MAX_POLL_INTERVAL_MS);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        return p;
    }
}
