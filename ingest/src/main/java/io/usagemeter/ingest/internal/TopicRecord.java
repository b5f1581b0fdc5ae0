package io.usagemeter.ingest.internal;

import io.usagemeter.schema.topics.Topic;
import java.time.Instant;

/**
 * One record as it goes to Kafka: serialised key and value and the record timestamp (the event time).
 * What both ways of reading a request end in ({@link CanonicalBatch} keeps the bytes it was sent,
 * the general path serialises what it validated), so the publisher does not need to know which it was.
 */
public record TopicRecord(byte[] key, byte[] value, long timestamp) {

    /** {@code value} keyed by {@code key}, serialised with {@code topic}'s serdes, stamped with {@code time}. */
    public static <K, V> TopicRecord of(Topic<K, V> topic, K key, V value, Instant time) {
        return new TopicRecord(topic.keySerde().serializer().serialize(topic.name(), key),
                topic.valueSerde().serializer().serialize(topic.name(), value), time.toEpochMilli());
    }
}
