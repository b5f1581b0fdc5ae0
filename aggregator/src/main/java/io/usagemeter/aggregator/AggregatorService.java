package io.usagemeter.aggregator;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.usagemeter.aggregator.internal.DedupeMemoryMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.kit.JvmMetrics;
import io.usagemeter.schema.topics.Topics;
import io.usagemeter.aggregator.sink.SinkConfig;
import io.usagemeter.aggregator.sink.UsageSink;
import io.usagemeter.schema.streams.LocalStateRecovery;
import io.usagemeter.schema.streams.ThreadReplacementPolicy;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running aggregator: the topology of {@link AggregatorTopology} in one Kafka Streams instance,
 * with its metrics and health endpoints ({@link AggregatorHttp}).
 */
public final class AggregatorService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(AggregatorService.class);

    private final AggregatorConfig config;
    private final Clock clock;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final DedupeMemoryMetrics dedupeMemory = new DedupeMemoryMetrics();
    private final AutoCloseable jvmMetrics;
    private final AggregatorHttp http;
    private final UsageSink sink;
    /** Set by {@link #start()}: the instance that runs (a first one whose local state could not be opened is closed). */
    private volatile KafkaStreams streams;
    /** Replicas of {@code meter.usage-events}, read at start: the replication of the internal topics too. */
    private volatile int inputReplicas = 1;
    private KafkaStreamsMetrics streamsMetrics;

    /** The Streams app alone (summaries to Kafka, nothing to PostgreSQL). */
    public AggregatorService(AggregatorConfig config, Clock clock) {
        this(config, clock, null);
    }

    /**
     * The Streams app and, when {@code sinkConfig} is not null, the PostgreSQL sink next to it: ready only
     * while both are.
     */
    public AggregatorService(AggregatorConfig config, Clock clock, SinkConfig sinkConfig) {
        this.config = Objects.requireNonNull(config, "config");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.jvmMetrics = JvmMetrics.bindTo(registry);
        this.sink = sinkConfig == null ? null : new UsageSink(sinkConfig, sinkConfig.dataSource(), clock, registry);
        this.http = new AggregatorHttp(this::state, () -> sink == null || sink.ready(), registry, config.httpLimits());
        bindDedupeMemory();
    }

    private void bindDedupeMemory() {
        Gauge.builder("meter.aggregator.dedupe.remembered.events", dedupeMemory, DedupeMemoryMetrics::rememberedEvents)
                .description("Events in the dedupe memory of this instance's tasks (on the heap and on disk)")
                .register(registry);
        Gauge.builder("meter.aggregator.dedupe.held.events", dedupeMemory, DedupeMemoryMetrics::heldEvents)
                .description("Of those, the latest ones held on the heap (at most METER_AGGREGATOR_DEDUPE_HEAP_EVENTS per task)")
                .register(registry);
        Gauge.builder("meter.aggregator.dedupe.heap", dedupeMemory, DedupeMemoryMetrics::heapBytes).baseUnit("bytes")
                .description("Heap taken by the dedupe memory: held events, the filters of those on disk, users' latest event times")
                .register(registry);
        Gauge.builder("meter.aggregator.dedupe.users", dedupeMemory, DedupeMemoryMetrics::users)
                .description("Users with a latest event time (the clock of their dedupe decisions) in this instance's tasks")
                .register(registry);
        FunctionCounter.builder("meter.aggregator.dedupe.carried.events", dedupeMemory, DedupeMemoryMetrics::carriedEvents)
                .description("Events carried out of a dropped segment because their user sent nothing since (still in their window)")
                .register(registry);
        FunctionCounter.builder("meter.aggregator.dedupe.disk.reads", dedupeMemory, DedupeMemoryMetrics::diskReads)
                .description("Look-ups of the dedupe memory on disk (a filter answered perhaps)").register(registry);
        FunctionCounter.builder("meter.aggregator.dedupe.disk.hits", dedupeMemory, DedupeMemoryMetrics::diskHits)
                .description("Of those, the ones that found the event (a retry of an event spilled to disk)")
                .register(registry);
    }

    /** The dedupe memory's figures (events, heap, reads on disk) of this instance. */
    public DedupeMemoryMetrics dedupeMemory() {
        return dedupeMemory;
    }

    /** A new, not yet started instance of the topology with its handlers. */
    private KafkaStreams newStreams() {
        Properties props = config.streamsProperties();
        // Internal topics replicated as the input topics were created (TopicSettings, resolved against the cluster).
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, inputReplicas);
        KafkaStreams instance = new KafkaStreams(AggregatorTopology.build(config, dedupeMemory), props);
        instance.setUncaughtExceptionHandler(new ThreadReplacementPolicy("aggregator",
                config.streams().threadReplacements(), config.streams().threadReplacementPeriod(), clock));
        instance.setStateListener((now, before) -> {
            LOG.info("aggregator {} -> {}", before, now);
            // An instance closed because its local state could not be opened is not the service stopping.
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING && instance == streams) {
                stopped.countDown();
            }
        });
        return instance;
    }

    /**
     * Starts processing, after checking that the topics exist and that usage events and admin
     * commands are co-partitioned: a user's resets must reach the task that holds the user's usage.
     *
     * @throws IllegalStateException when a topic is missing or the partition counts differ
     */
    public AggregatorService start() {
        requireCoPartitionedInputs();
        LOG.info("aggregator {} starting against {} (dedupe window {}, retention {} months, reset horizon {} months)",
                config.applicationId(), config.bootstrapServers(), config.dedupeWindow(), config.retentionMonths(),
                config.resetHorizonMonths());
        if (config.publishFrom() != null) {
            LOG.info("aggregator {} publishes summaries of {} and later only (METER_AGGREGATOR_PUBLISH_FROM, set after a"
                    + " rewind): its state holds earlier months only partly", config.applicationId(), config.publishFrom());
        }
        streams = LocalStateRecovery.start(this::newStreams, "aggregator " + config.applicationId());
        streamsMetrics = new KafkaStreamsMetrics(streams);
        streamsMetrics.bindTo(registry);
        if (sink != null) {
            sink.start();
        }
        int port = http.start(config.httpPort());
        LOG.info("aggregator serves /metrics, /health/live and /health/ready on port {}", port);
        return this;
    }

    private void requireCoPartitionedInputs() {
        String events = Topics.USAGE_EVENTS.name();
        String commands = Topics.ADMIN_COMMANDS.name();
        Map<String, TopicDescription> topics;
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers()))) {
            topics = admin.describeTopics(List.of(events, commands)).allTopicNames().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot read the topics " + events + " and " + commands + " at "
                    + config.bootstrapServers() + " (create them first, e.g. with the topic bootstrapper): "
                    + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka at " + config.bootstrapServers() + " did not answer within 30 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking the topics", e);
        }
        inputReplicas = topics.get(events).partitions().get(0).replicas().size();
        int eventPartitions = topics.get(events).partitions().size();
        int commandPartitions = topics.get(commands).partitions().size();
        if (eventPartitions != commandPartitions) {
            throw new IllegalStateException(events + " has " + eventPartitions + " partitions but " + commands + " has "
                    + commandPartitions + ": they must be co-partitioned by user_id (same partition count)");
        }
    }

    /** The PostgreSQL sink, if this instance runs one. */
    public java.util.Optional<UsageSink> sink() {
        return java.util.Optional.ofNullable(sink);
    }

    /** The Streams state; {@code CREATED} before {@link #start()}. */
    public KafkaStreams.State state() {
        KafkaStreams instance = streams;
        return instance == null ? KafkaStreams.State.CREATED : instance.state();
    }

    /** Blocks until the instance stopped, closed or failed past its failure budget. */
    public void awaitStop() throws InterruptedException {
        stopped.await();
    }

    /** The Kafka Streams instance, for metrics binders and interactive queries (null before {@link #start()}). */
    public KafkaStreams streams() {
        return streams;
    }

    /** The port of the operational endpoints (after {@link #start()}). */
    public int httpPort() {
        return http.port();
    }

    /** The routes its HTTP server answers ({@code /metrics} and the health checks). */
    public List<String> routes() {
        return http.routes();
    }

    @Override
    public void close() {
        http.close();
        if (sink != null) {
            sink.close();
        }
        // Leave the group: a restarted instance gets its tasks back at once instead of after the
        // session timeout (10 s, see AggregatorConfig), which matters more here than sparing the other instances a rebalance.
        KafkaStreams instance = streams;
        if (instance != null) {
            instance.close(CloseOptions.timeout(Duration.ofSeconds(30))
                    .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
            streamsMetrics.close();
        }
        try {
            jvmMetrics.close();
        } catch (Exception e) {
            LOG.warn("could not close the JVM metrics: {}", e.toString());
        }
        registry.close();
    }
}
