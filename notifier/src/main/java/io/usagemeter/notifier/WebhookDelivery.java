package io.usagemeter.notifier;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * One event for one endpoint, with every attempt made so far, as the delivery log shows it.
 *
 * @param webhookId the {@code webhook-id} header, the same on every attempt
 * @param status {@code pending} (an attempt is due at {@code nextAttemptAt}), {@code succeeded} or
 *     {@code failed} (out of retries; {@code POST .../retry} delivers again)
 */
public record WebhookDelivery(UUID id, UUID endpointId, String webhookId, String eventType, UUID userId, String status,
                              Instant createdAt, Instant nextAttemptAt, Instant finishedAt, List<Attempt> attempts) {

    public WebhookDelivery {
        attempts = List.copyOf(attempts);
    }

    /** One HTTP attempt: {@code statusCode} null when no answer came, {@code error} null on a 2xx. */
    public record Attempt(int attempt, Instant attemptedAt, Integer statusCode, long latencyMs, String error) {
    }
}
