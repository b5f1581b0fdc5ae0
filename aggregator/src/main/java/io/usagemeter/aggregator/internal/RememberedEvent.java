package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.UsageEvent;

/**
 * One event in the dedupe memory: the event as counted (its summary fields recompute a month after a
 * reset) and when the task remembered it, on its event-time clock (the high water once it was seen).
 */
public record RememberedEvent(UsageEvent event, long rememberedAtMs) {
}
