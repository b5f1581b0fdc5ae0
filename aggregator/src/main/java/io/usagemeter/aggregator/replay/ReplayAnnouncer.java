package io.usagemeter.aggregator.replay;

import io.usagemeter.schema.events.ReplayStatus;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the enforcers which months are being rebuilt: {@code running} on the replays topic with a
 * heartbeat while the replay runs, {@code finished} when it ends however it ends. A replay killed
 * outright stops beating and its months stop counting as rebuilt after {@link ReplayStatus#HEARTBEAT_EXPIRY}.
 */
final class ReplayAnnouncer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ReplayAnnouncer.class);
    static final Duration HEARTBEAT_INTERVAL = Duration.ofSeconds(5);

    private final KafkaProducer<String, ReplayStatus> producer;
    private final ScheduledExecutorService heartbeat;
    private final Clock clock;
    private volatile ReplayStatus status;

    private ReplayAnnouncer(KafkaProducer<String, ReplayStatus> producer, Clock clock, ReplayStatus status) {
        this.producer = producer;
        this.clock = clock;
        this.status = status;
        this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "replay-heartbeat-" + status.jobId());
            t.setDaemon(true);
            return t;
        });
    }

    /** Announces {@code plan} as running (creating the replays topic if needed) and keeps it beating. */
    static ReplayAnnouncer start(String bootstrapServers, Admin admin, short replicationFactor, ReplayPlan plan, Clock clock) {
        new TopicBootstrapper(admin, replicationFactor).bootstrap(List.of(Topics.REPLAYS));
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        KafkaProducer<String, ReplayStatus> producer = new KafkaProducer<>(p, new StringSerializer(),
                Topics.REPLAYS.valueSerde().serializer());
        ReplayStatus running = new ReplayStatus(plan.jobId(), plan.range().firstMonth(), plan.range().lastMonth(),
                ReplayStatus.State.RUNNING, clock.instant(), clock.instant());
        ReplayAnnouncer announcer = new ReplayAnnouncer(producer, clock, running);
        announcer.send(running, true);
        announcer.heartbeat.scheduleAtFixedRate(() -> announcer.send(announcer.status.beat(clock.instant()), false),
                HEARTBEAT_INTERVAL.toMillis(), HEARTBEAT_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        return announcer;
    }

    private void send(ReplayStatus next, boolean wait) {
        status = next;
        var sent = producer.send(new ProducerRecord<>(Topics.REPLAYS.name(), next.jobId(), next));
        if (wait) {
            try {
                sent.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("cannot announce replay " + next.jobId() + " on " + Topics.REPLAYS.name()
                        + ": " + e.getMessage(), e);
            }
        }
    }

    /** Announces the end and stops beating. */
    @Override
    public void close() {
        heartbeat.shutdownNow();
        try {
            send(status.finished(clock.instant()), true);
        } catch (IllegalStateException e) {
            LOG.warn("{}; the enforcers stop marking its months stale after {}", e.getMessage(),
                    ReplayStatus.HEARTBEAT_EXPIRY);
        } finally {
            producer.close(Duration.ofSeconds(5));
        }
    }

}
