package io.usagemeter.notifier;

import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.HexFormat;
import java.util.UUID;

/**
 * One limit event as a webhook: its type, its {@code webhook-id} and the exact body that is signed.
 *
 * <p>The id is derived from the event itself, so the same event gets the same id for every endpoint,
 * every attempt and every redelivery of the Kafka record: receivers dedupe on it.
 */
public record WebhookMessage(String id, WebhookEventType type, UUID userId, String body) {

    /** The body: {@code {"type", "timestamp", "data": {...}}}, in this field order. */
    record Body(String type, Instant timestamp, Data data) {
    }

    record Data(UUID userId, YearMonth month, int thresholdPercent, long used, long effectiveLimit, LimitStatus state) {
    }

    public static WebhookMessage of(LimitEvent event) {
        WebhookEventType type = WebhookEventType.of(event);
        Data data = new Data(event.userId(), event.month(), event.threshold(), event.used(), event.effectiveLimit(),
                LimitStatus.of(event.used(), event.effectiveLimit()));
        String body = Json.write(new Body(type.wireName(), event.occurredAt(), data));
        return new WebhookMessage(idOf(event, type), type, event.userId(), body);
    }

    /** {@code msg_} and 32 hex digits of a name-based UUID over everything that tells two events apart. */
    static String idOf(LimitEvent event, WebhookEventType type) {
        String name = String.join("|", "limit-event/v1", type.wireName(), event.userId().toString(),
                event.month().toString(), Integer.toString(event.threshold()), event.occurredAt().toString(),
                Long.toString(event.used()), Long.toString(event.effectiveLimit()));
        UUID uuid = UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8));
        return "msg_" + HexFormat.of().toHexDigits(uuid.getMostSignificantBits())
                + HexFormat.of().toHexDigits(uuid.getLeastSignificantBits());
    }
}
