package io.usagemeter.bench;

import io.usagemeter.aggregator.AggregatorConfig;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.nio.ByteBuffer;
import java.util.Properties;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The reference the aggregator is measured against: a bare Kafka Streams app reading the same usage
 * events topic with the same serde, counting calls and summing units per user and month in one cached,
 * logged RocksDB store, with the aggregator's own Streams settings (exactly-once v2, commit interval,
 * one thread). No dedupe, no resets, no output topic: the least honest work a usage aggregate can do.
 */
final class BareStreamsAggregate {

    static final String STORE = "bare-usage-by-user-month";

    private BareStreamsAggregate() {
    }

    /** A started instance under {@code applicationId}, with {@code aggregator}'s Streams properties otherwise. */
    static KafkaStreams start(AggregatorConfig aggregator, String applicationId) {
        Properties props = aggregator.withApplicationId(applicationId).streamsProperties();
        props.put(StreamsConfig.STATE_DIR_CONFIG, aggregator.stateDir().resolve("bare").toString());
        KafkaStreams streams = new KafkaStreams(topology(), props);
        streams.start();
        return streams;
    }

    static Topology topology() {
        StreamsBuilder builder = new StreamsBuilder();
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(),
                Serdes.ByteArray()).withCachingEnabled());
        builder.stream(Topics.USAGE_EVENTS.name(), Consumed.with(Topics.USAGE_EVENTS.keySerde(),
                        Topics.USAGE_EVENTS.valueSerde()).withName("bare-events"))
                .process(CountAndSum::new, Named.as("bare-count-and-sum"), STORE);
        return builder.build();
    }

    private static final class CountAndSum implements Processor<String, UsageEvent, Void, Void> {
        private KeyValueStore<String, byte[]> store;

        @Override
        public void init(ProcessorContext<Void, Void> context) {
            store = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<String, UsageEvent> record) {
            UsageEvent e = record.value();
            String key = e.month() + "|" + e.userId();
            byte[] current = store.get(key);
            ByteBuffer in = current == null ? ByteBuffer.allocate(16) : ByteBuffer.wrap(current);
            long calls = in.getLong() + 1;
            long units = in.getLong() + e.units();
            store.put(key, ByteBuffer.allocate(16).putLong(calls).putLong(units).array());
        }
    }
}
