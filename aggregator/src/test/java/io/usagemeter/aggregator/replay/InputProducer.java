package io.usagemeter.aggregator.replay;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.util.Map;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.StringSerializer;

/** The aggregator's inputs for the replay tests: usage events and admin commands, keyed by user, each with its topic's serde. */
final class InputProducer {

    private InputProducer() {
    }

    static KafkaProducer<String, Object> create(String bootstrapServers) {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), (topic, value) ->
                value instanceof UsageEvent e ? Topics.USAGE_EVENTS.valueSerde().serializer().serialize(topic, e)
                        : Topics.ADMIN_COMMANDS.valueSerde().serializer().serialize(topic, (AdminCommand) value));
    }
}
