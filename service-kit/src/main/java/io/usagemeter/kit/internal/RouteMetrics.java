package io.usagemeter.kit.internal;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The request timer of one route, one per status code. Each is registered the first time its status
 * is answered and only looked up (an array index) afterwards: a request never builds a meter.
 */
public final class RouteMetrics {

    private final MeterRegistry registry;
    private final String timerName;
    private final String route;
    private final AtomicReferenceArray<Timer> byStatus = new AtomicReferenceArray<>(600);

    public RouteMetrics(MeterRegistry registry, String timerName, String route) {
        this.registry = registry;
        this.timerName = timerName;
        this.route = route;
    }

    public void record(int status, long nanos) {
        int index = status >= 100 && status < 600 ? status : 500;
        Timer timer = byStatus.get(index);
        if (timer == null) {
            timer = Timer.builder(timerName)
                    .description("Request latency by route and status")
                    .tag("route", route)
                    .tag("status", Integer.toString(index))
                    .publishPercentileHistogram()
                    .register(registry);
            byStatus.set(index, timer);
        }
        timer.record(nanos, TimeUnit.NANOSECONDS);
    }
}
