package io.usagemeter.aggregator;

import io.usagemeter.aggregator.internal.ThreadReplacementPolicy;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.Topology;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The running aggregator: the topology of {@link AggregatorTopology} in one Kafka Streams instance. */
public final class AggregatorService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AggregatorService.class);

    private final AggregatorConfig config;
    private final KafkaStreams streams;
    private final CountDownLatch stopped = new CountDownLatch(1);

    public AggregatorService(AggregatorConfig config, Clock clock) {
        this.config = Objects.requireNonNull(config, "config");
        Topology topology = AggregatorTopology.build(config);
        this.streams = new KafkaStreams(topology, config.streamsProperties());
        streams.setUncaughtExceptionHandler(new ThreadReplacementPolicy(
                config.threadFailures().replacements(), config.threadFailures().period(), clock));
        streams.setStateListener((now, before) -> {
            LOG.info("aggregator {} -> {}", before, now);
            if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) {
                stopped.countDown();
            }
        });
    }

    public AggregatorService start() {
        LOG.info("aggregator {} starting against {} (dedupe window {}, retention {} months, reset horizon {} months)",
                config.applicationId(), config.bootstrapServers(), config.dedupeWindow(), config.retentionMonths(),
                config.resetHorizonMonths());
        streams.start();
        return this;
    }

    public KafkaStreams.State state() {
        return streams.state();
    }

    /** Blocks until the instance stopped, closed or failed past its failure budget. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /** The Kafka Streams instance, for metrics binders and interactive queries. */
    public KafkaStreams streams() {
        return streams;
    }

    @Override
    public void close() {
        streams.close(Duration.ofSeconds(30));
    }
}
