package io.usagemeter.notifier;

import io.usagemeter.notifier.db.DeliveryLog;
import io.usagemeter.notifier.db.EndpointStore;
import io.usagemeter.notifier.internal.DestinationPolicy;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * What the webhook admin API does, apart from HTTP: register (with the destination checked),
 * list, remove, rotate secrets, read the delivery log, retry a delivery.
 */
public final class WebhookAdmin {

    /** A request refused because of one field. */
    public static final class InvalidField extends RuntimeException {
        private final String field;

        InvalidField(String field, String message) {
            super(message, null, false, false);
            this.field = field;
        }

        public String field() {
            return field;
        }
    }

    /** A registration: {@code {"url", "event_types": [...]}}. */
    public record Registration(String url, List<String> eventTypes) {
    }

    private final EndpointStore endpoints;
    private final DeliveryLog log;
    private final DestinationPolicy policy;
    private final Runnable wakeDispatcher;
    private final Clock clock;

    public WebhookAdmin(EndpointStore endpoints, DeliveryLog log, DestinationPolicy policy, Runnable wakeDispatcher,
                        Clock clock) {
        this.endpoints = endpoints;
        this.log = log;
        this.policy = policy;
        this.wakeDispatcher = wakeDispatcher;
        this.clock = clock;
    }

    public WebhookEndpoint.WithSecret register(Registration registration) {
        try {
            policy.check(registration.url());
        } catch (DestinationPolicy.RefusedDestination e) {
            throw new InvalidField("url", e.getMessage());
        }
        WebhookEndpoint.WithSecret created = endpoints.create(registration.url().strip(), eventTypes(registration.eventTypes()));
        wakeDispatcher.run();
        return created;
    }

    private static List<String> eventTypes(List<String> given) {
        if (given == null || given.isEmpty()) {
            throw new InvalidField("event_types", "is required: one or more of " + wireNames());
        }
        Set<String> types = new LinkedHashSet<>();
        List<String> unknown = new ArrayList<>();
        for (String type : given) {
            if (type == null || WebhookEventType.fromWireName(type).isEmpty()) {
                unknown.add(String.valueOf(type));
            } else {
                types.add(type);
            }
        }
        if (!unknown.isEmpty()) {
            throw new InvalidField("event_types", "unknown event types " + unknown + ": use " + wireNames());
        }
        return List.copyOf(types);
    }

    private static List<String> wireNames() {
        return java.util.Arrays.stream(WebhookEventType.values()).map(WebhookEventType::wireName).toList();
    }

    public List<WebhookEndpoint> list() {
        return endpoints.list();
    }

    public Optional<WebhookEndpoint> find(UUID id) {
        return endpoints.find(id);
    }

    public boolean delete(UUID id) {
        return endpoints.delete(id);
    }

    public Optional<WebhookEndpoint.WithSecret> rotateSecret(UUID id) {
        return endpoints.rotateSecret(id);
    }

    public List<WebhookDelivery> deliveries(UUID endpointId, int limit) {
        return log.list(endpointId, limit);
    }

    public DeliveryLog.RetryResult retry(UUID endpointId, UUID deliveryId) {
        DeliveryLog.RetryResult result = log.retry(endpointId, deliveryId, clock.instant());
        if (result == DeliveryLog.RetryResult.QUEUED) {
            wakeDispatcher.run();
        }
        return result;
    }

    public Optional<WebhookDelivery> delivery(UUID endpointId, UUID deliveryId) {
        return log.find(endpointId, deliveryId);
    }
}
