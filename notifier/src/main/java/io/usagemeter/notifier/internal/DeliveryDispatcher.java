package io.usagemeter.notifier.internal;

import io.usagemeter.notifier.db.DeliveryLog;
import io.usagemeter.notifier.db.EndpointStore;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one {@link EndpointWorker} per registered endpoint, so a slow or failing receiver only ever
 * delays its own deliveries. Workers look for due deliveries when woken (a new event, a retry by
 * hand) and at least every {@link #IDLE_CHECK}; the dispatcher itself follows endpoints being added
 * and removed and refreshes the age of the oldest pending delivery.
 */
public final class DeliveryDispatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeliveryDispatcher.class);
    static final Duration IDLE_CHECK = Duration.ofMillis(500);

    private final DeliveryLog log;
    private final EndpointStore endpoints;
    private final DestinationPolicy policy;
    private final WebhookSender sender;
    private final RetrySchedule schedule;
    private final NotifierMetrics metrics;
    private final Clock clock;
    private final Map<UUID, EndpointWorker> workers = new ConcurrentHashMap<>();
    private final Object wake = new Object();
    private final Thread thread;
    private volatile boolean running = true;

    public DeliveryDispatcher(DeliveryLog log, EndpointStore endpoints, DestinationPolicy policy, WebhookSender sender,
                              RetrySchedule schedule, NotifierMetrics metrics, Clock clock) {
        this.log = log;
        this.endpoints = endpoints;
        this.policy = policy;
        this.sender = sender;
        this.schedule = schedule;
        this.metrics = metrics;
        this.clock = clock;
        this.thread = new Thread(this::run, "webhook-dispatcher");
        this.thread.setDaemon(true);
    }

    public DeliveryDispatcher start() {
        thread.start();
        return this;
    }

    /** New deliveries may be due: every worker looks now, and the dispatcher checks for new endpoints. */
    public void wakeUp() {
        synchronized (wake) {
            wake.notifyAll();
        }
        workers.values().forEach(EndpointWorker::wakeUp);
    }

    private void run() {
        while (running) {
            try {
                followEndpoints();
                metrics.oldestPendingAge(log.oldestPending()
                        .map(oldest -> Duration.between(oldest, clock.instant())).orElse(Duration.ZERO));
            } catch (RuntimeException e) {
                LOG.warn("webhook dispatcher could not read the delivery log: {}", e.toString());
            }
            synchronized (wake) {
                try {
                    wake.wait(IDLE_CHECK.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void followEndpoints() {
        Set<UUID> current = new HashSet<>(log.endpointIds());
        for (UUID id : current) {
            workers.computeIfAbsent(id, endpointId -> new EndpointWorker(endpointId, log, endpoints, policy, sender,
                    schedule, metrics, clock).start());
        }
        for (UUID id : List.copyOf(workers.keySet())) {
            if (!current.contains(id)) {
                EndpointWorker gone = workers.remove(id);
                if (gone != null) {
                    gone.stop();
                }
            }
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.values().forEach(EndpointWorker::stop);
        workers.clear();
    }
}
