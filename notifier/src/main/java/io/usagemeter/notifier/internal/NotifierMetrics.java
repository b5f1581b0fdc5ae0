package io.usagemeter.notifier.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The notifier's meters: deliveries by outcome, attempts by result, attempt and delivery latency,
 * and the age of the oldest pending delivery (refreshed by the dispatcher, not queried per scrape).
 */
public final class NotifierMetrics {

    private final MeterRegistry registry;
    private final ConcurrentMap<String, Counter> deliveries = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter> attempts = new ConcurrentHashMap<>();
    private final Timer attemptDuration;
    private final Timer deliveryLatency;
    private final Counter enqueued;
    private final AtomicLong oldestPendingAgeMillis = new AtomicLong();

    public NotifierMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.attemptDuration = Timer.builder("meter.notifier.attempt.duration")
                .description("HTTP time of one delivery attempt, until the answer or the timeout")
                .publishPercentileHistogram().register(registry);
        this.deliveryLatency = Timer.builder("meter.notifier.delivery.latency")
                .description("From the event's arrival in the delivery log to its successful delivery, retries included")
                .publishPercentileHistogram().register(registry);
        this.enqueued = Counter.builder("meter.notifier.deliveries.enqueued")
                .description("Deliveries written to the log (one per event and subscribed endpoint)").register(registry);
        Gauge.builder("meter.notifier.oldest.pending.age", oldestPendingAgeMillis, a -> a.get() / 1000.0)
                .description("Age of the oldest pending delivery; 0 when none is pending")
                .baseUnit("seconds").register(registry);
    }

    public void enqueued(int count) {
        enqueued.increment(count);
    }

    /** @param result {@code success}, {@code http_error}, {@code no_answer} or {@code refused} */
    public void attempt(String result, Duration took) {
        attempts.computeIfAbsent(result, r -> Counter.builder("meter.notifier.attempts")
                .description("Delivery attempts by result").tag("result", r).register(registry)).increment();
        attemptDuration.record(took);
    }

    /** @param outcome {@code succeeded} or {@code failed} (out of retries) */
    public void delivered(String outcome, Duration sinceEnqueued) {
        deliveries.computeIfAbsent(outcome, o -> Counter.builder("meter.notifier.deliveries")
                .description("Deliveries finished, by outcome").tag("outcome", o).register(registry)).increment();
        if (outcome.equals("succeeded")) {
            deliveryLatency.record(sinceEnqueued);
        }
    }

    public void oldestPendingAge(Duration age) {
        oldestPendingAgeMillis.set(Math.max(0, age.toMillis()));
    }
}
