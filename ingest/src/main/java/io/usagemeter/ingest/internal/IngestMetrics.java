package io.usagemeter.ingest.internal;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The service's own meters (request latency by route and status is the kit's {@code meter.ingest.request}).
 * Rejections are counted twice on purpose: per request (every reason)
 * and per event (only where the request's events were counted, e.g. validation or Kafka
 * unavailable; a malformed body has no countable events).
 */
public final class IngestMetrics {

    private final MeterRegistry registry;
    /** Per route, registered once: a request only increments. */
    private final Map<String, Accepted> accepted = new ConcurrentHashMap<>();

    private record Accepted(Counter events, DistributionSummary batchSize) {
    }

    public IngestMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public void accepted(String route, int events) {
        Accepted meters = accepted.computeIfAbsent(route, r -> new Accepted(
                Counter.builder("meter.ingest.events.accepted")
                        .description("Events acknowledged by Kafka and answered 202")
                        .tag("route", r)
                        .register(registry),
                DistributionSummary.builder("meter.ingest.batch.size")
                        .description("Events per accepted request")
                        .tag("route", r)
                        .publishPercentileHistogram()
                        .minimumExpectedValue(1.0)
                        .maximumExpectedValue(10_000.0)
                        .register(registry)));
        meters.events().increment(events);
        meters.batchSize().record(events);
    }

    public void rejected(String route, IngestRejection rejection) {
        Counter.builder("meter.ingest.requests.rejected")
                .description("Requests refused, by reason")
                .tag("route", route)
                .tag("reason", rejection.reason())
                .register(registry)
                .increment();
        if (rejection.events() > 0) {
            Counter.builder("meter.ingest.events.rejected")
                    .description("Events in refused requests, by reason")
                    .tag("route", route)
                    .tag("reason", rejection.reason())
                    .register(registry)
                    .increment(rejection.events());
        }
    }
}
