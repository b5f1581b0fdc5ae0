package io.usagemeter.notifier.internal;

import io.usagemeter.notifier.db.DeliveryLog;
import io.usagemeter.notifier.db.EndpointStore;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers one endpoint's due deliveries, one at a time, oldest first and at most one per user at a
 * time (so each user's events arrive in order), on a thread of its own.
 */
final class EndpointWorker {

    private static final Logger LOG = LoggerFactory.getLogger(EndpointWorker.class);
    private static final int BATCH = 50;

    private final UUID endpointId;
    private final DeliveryLog log;
    private final EndpointStore endpoints;
    private final DestinationPolicy policy;
    private final WebhookSender sender;
    private final RetrySchedule schedule;
    private final NotifierMetrics metrics;
    private final Clock clock;
    private final Thread thread;
    private final Object wake = new Object();
    private boolean woken;
    private volatile boolean running = true;

    EndpointWorker(UUID endpointId, DeliveryLog log, EndpointStore endpoints, DestinationPolicy policy,
                   WebhookSender sender, RetrySchedule schedule, NotifierMetrics metrics, Clock clock) {
        this.endpointId = endpointId;
        this.log = log;
        this.endpoints = endpoints;
        this.policy = policy;
        this.sender = sender;
        this.schedule = schedule;
        this.metrics = metrics;
        this.clock = clock;
        this.thread = new Thread(this::run, "webhook-endpoint-" + endpointId.toString().substring(0, 8));
        this.thread.setDaemon(true);
    }

    EndpointWorker start() {
        thread.start();
        return this;
    }

    void wakeUp() {
        synchronized (wake) {
            woken = true;
            wake.notifyAll();
        }
    }

    void stop() {
        running = false;
        thread.interrupt();
    }

    private void run() {
        while (running) {
            boolean worked = false;
            try {
                worked = deliverDue();
            } catch (RuntimeException e) {
                LOG.warn("webhook {}: could not read or update the delivery log: {}", endpointId, e.toString());
            }
            if (!worked && !await()) {
                return;
            }
        }
    }

    /** Waits until woken or the idle check; false when interrupted (stopping). */
    private boolean await() {
        synchronized (wake) {
            try {
                if (!woken) {
                    wake.wait(DeliveryDispatcher.IDLE_CHECK.toMillis());
                }
                woken = false;
                return running;
            } catch (InterruptedException e) {
                return false;
            }
        }
    }

    /** Delivers what is due now; true when there was something. */
    private boolean deliverDue() {
        List<DeliveryLog.Due> due = log.due(endpointId, clock.instant(), BATCH);
        if (due.isEmpty()) {
            return false;
        }
        Optional<EndpointStore.Destination> destination = endpoints.destination(endpointId);
        if (destination.isEmpty()) {
            running = false; // deleted: its log went with it
            return false;
        }
        for (DeliveryLog.Due delivery : due) {
            if (!running) {
                return true;
            }
            attempt(destination.get(), delivery);
        }
        return true;
    }

    private void attempt(EndpointStore.Destination destination, DeliveryLog.Due delivery) {
        Instant attemptedAt = clock.instant();
        long timestamp = attemptedAt.getEpochSecond();
        WebhookSender.Outcome outcome;
        String result;
        try {
            URI url = policy.check(destination.url());
            String signature = io.usagemeter.notifier.WebhookSignature.header(delivery.messageId(), timestamp,
                    delivery.payload(), destination.secrets());
            outcome = sender.post(url, List.of(
                    new String[] {"webhook-id", delivery.messageId()},
                    new String[] {"webhook-timestamp", Long.toString(timestamp)},
                    new String[] {"webhook-signature", signature}), delivery.payload());
            result = outcome.succeeded() ? "success" : outcome.statusCode() != null ? "http_error" : "no_answer";
        } catch (DestinationPolicy.RefusedDestination refused) {
            outcome = new WebhookSender.Outcome(null, 0, "refused: " + refused.getMessage());
            result = "refused";
        }
        metrics.attempt(result, Duration.ofMillis(outcome.latencyMillis()));
        Optional<Instant> retryAt = outcome.succeeded() ? Optional.empty()
                : schedule.waitAfter(delivery.roundAttempts() + 1).map(wait -> clock.instant().plus(wait));
        String status = log.recordAttempt(delivery, attemptedAt, outcome.statusCode(), outcome.latencyMillis(),
                outcome.error(), outcome.succeeded(), retryAt);
        if (!status.equals(DeliveryLog.PENDING)) {
            metrics.delivered(status, Duration.between(delivery.createdAt(), clock.instant()));
        }
        if (outcome.succeeded()) {
            LOG.debug("webhook {} delivered {} ({} ms)", endpointId, delivery.messageId(), outcome.latencyMillis());
        } else {
            LOG.info("webhook {}: attempt {} of {} failed: {}; {}", endpointId, delivery.attempts() + 1,
                    delivery.messageId(), outcome.error(), retryAt.map(t -> "next at " + t).orElse("out of retries"));
        }
    }
}
