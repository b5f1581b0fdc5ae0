package io.usagemeter.schema.events;

import java.time.Instant;
import java.util.Base64;
import java.util.Objects;

/**
 * A record that could not be processed, kept with the reason so it can be inspected and replayed.
 * Key and payload are the original bytes, base64-encoded (they may not be valid JSON or UTF-8).
 *
 * @param stage where it failed, e.g. {@code aggregator.deserialization} or {@code ingest.validation}
 * @param topic the source topic, {@code null} when the record never reached Kafka (e.g. rejected at ingest)
 * @param partition the source partition, {@code null} when there is none
 * @param offset the source offset, {@code null} when there is none
 * @param keyBase64 the original key, {@code null} for a null key
 * @param payloadBase64 the original value, {@code null} for a null value
 */
public record DeadLetter(
        String stage,
        String topic,
        Integer partition,
        Long offset,
        String keyBase64,
        String payloadBase64,
        String reason,
        String exceptionClass,
        Instant failedAt) {

    public DeadLetter {
        Objects.requireNonNull(stage, "stage");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(failedAt, "failed_at");
    }

    /** A dead letter for raw bytes; {@code failure} may be {@code null} when a rule, not an exception, refused it. */
    public static DeadLetter of(String stage, String topic, Integer partition, Long offset,
                                byte[] key, byte[] payload, String reason, Throwable failure, Instant failedAt) {
        return new DeadLetter(stage, topic, partition, offset, encode(key), encode(payload), reason,
                failure == null ? null : failure.getClass().getName(), failedAt);
    }

    public byte[] key() {
        return keyBase64 == null ? null : Base64.getDecoder().decode(keyBase64);
    }

    public byte[] payload() {
        return payloadBase64 == null ? null : Base64.getDecoder().decode(payloadBase64);
    }

    private static String encode(byte[] bytes) {
        return bytes == null ? null : Base64.getEncoder().encodeToString(bytes);
    }
}
