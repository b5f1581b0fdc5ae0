package io.usagemeter.notifier;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A registered receiver as the admin API shows it; its secret is shown only when created or rotated.
 *
 * @param previousSecretExpiresAt until when the secret before the last rotation still signs; null when none
 */
public record WebhookEndpoint(UUID id, String url, List<String> eventTypes, Instant createdAt, Instant previousSecretExpiresAt) {

    public WebhookEndpoint {
        eventTypes = List.copyOf(eventTypes);
    }

    /** The answer to a create or a rotation: the endpoint and its (new) secret, {@code whsec_...}. */
    public record WithSecret(UUID id, String url, List<String> eventTypes, String secret, Instant createdAt,
                             Instant previousSecretExpiresAt) {
        public static WithSecret of(WebhookEndpoint e, String secret) {
            return new WithSecret(e.id(), e.url(), e.eventTypes(), secret, e.createdAt(), e.previousSecretExpiresAt());
        }

        /** The secret masked, for logs. */
        @Override
        public String toString() {
            return "WithSecret[id=" + id + ", url=" + url + ", secret=whsec_***]";
        }
    }
}
