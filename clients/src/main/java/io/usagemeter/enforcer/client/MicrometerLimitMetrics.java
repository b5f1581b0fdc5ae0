package io.usagemeter.enforcer.client;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/** {@code meter.limit.client.request} (timer, by outcome) and {@code meter.limit.client.decisions} (by source and result). */
final class MicrometerLimitMetrics implements LimitMetrics {

    private final MeterRegistry registry;

    MicrometerLimitMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    @Override
    public void request(long nanos, String outcome) {
        Timer.builder("meter.limit.client.request").description("Limit checks sent to the enforcer")
                .tag("outcome", outcome).register(registry).record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void decision(LimitDecision decision) {
        Counter.builder("meter.limit.client.decisions").description("Limit decisions by source and result")
                .tag("source", decision.source().name().toLowerCase(Locale.ROOT))
                .tag("allowed", Boolean.toString(decision.allowed()))
                .register(registry).increment();
    }
}
