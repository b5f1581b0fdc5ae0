package io.usagemeter.notifier;

import io.usagemeter.schema.events.LimitEvent;
import java.util.Arrays;
import java.util.Optional;

/** The event types an endpoint subscribes to, with their wire names. */
public enum WebhookEventType {
    /** Usage crossed 80 % of the effective limit. */
    LIMIT_WARNING("limit.warning"),
    /** Usage crossed 100 %. */
    LIMIT_EXCEEDED("limit.exceeded"),
    /** Usage is back below 80 % after a crossing: a reset, credits, a plan change or a new month. */
    LIMIT_RESOLVED("limit.resolved");

    private final String wireName;

    WebhookEventType(String wireName) {
        this.wireName = wireName;
    }

    public String wireName() {
        return wireName;
    }

    public static Optional<WebhookEventType> fromWireName(String name) {
        return Arrays.stream(values()).filter(t -> t.wireName.equals(name)).findFirst();
    }

    public static WebhookEventType of(LimitEvent event) {
        if (event.kind() == LimitEvent.Kind.RESOLVED) {
            return LIMIT_RESOLVED;
        }
        return event.threshold() == LimitEvent.EXCEEDED_THRESHOLD ? LIMIT_EXCEEDED : LIMIT_WARNING;
    }
}
