package io.usagemeter.notifier.db;

import static io.usagemeter.notifier.db.EndpointStore.utc;
import static io.usagemeter.schema.jooq.Tables.WEBHOOK_ATTEMPTS;
import static io.usagemeter.schema.jooq.Tables.WEBHOOK_DELIVERIES;
import static io.usagemeter.schema.jooq.Tables.WEBHOOK_ENDPOINTS;

import io.usagemeter.notifier.WebhookDelivery;
import io.usagemeter.notifier.WebhookMessage;
import io.usagemeter.schema.jooq.tables.WebhookDeliveries;
import io.usagemeter.schema.jooq.tables.records.WebhookDeliveriesRecord;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Collectors;
import org.jooq.DSLContext;
import org.jooq.Record1;
import org.jooq.impl.DSL;

/**
 * The outbox and log of webhook deliveries: one row per event and endpoint, written before the
 * Kafka offset is committed, then one attempt row per HTTP attempt.
 */
public final class DeliveryLog {

    public static final String PENDING = "pending";
    public static final String SUCCEEDED = "succeeded";
    public static final String FAILED = "failed";

    /** A delivery due now: what to send, and how many attempts it had. */
    public record Due(UUID id, UUID endpointId, String messageId, String eventType, String payload, int attempts,
                      int roundAttempts, Instant createdAt) {
    }

    /** A message for one endpoint, to be written to the outbox. */
    public record Outgoing(UUID endpointId, WebhookMessage message) {
    }

    private final DSLContext dsl;

    public DeliveryLog(DSLContext dsl) {
        this.dsl = dsl;
    }

    /**
     * Writes the deliveries in one transaction, in order; a message an endpoint already has (a Kafka
     * record read again after a crash) is skipped. Returns how many rows are new.
     */
    public int enqueue(List<Outgoing> outgoing, Instant now) {
        if (outgoing.isEmpty()) {
            return 0;
        }
        OffsetDateTime at = utc(now);
        return dsl.transactionResult(c -> {
            var insert = c.dsl().insertInto(WEBHOOK_DELIVERIES).columns(WEBHOOK_DELIVERIES.ID, WEBHOOK_DELIVERIES.ENDPOINT_ID,
                    WEBHOOK_DELIVERIES.MESSAGE_ID, WEBHOOK_DELIVERIES.EVENT_TYPE, WEBHOOK_DELIVERIES.USER_ID,
                    WEBHOOK_DELIVERIES.PAYLOAD, WEBHOOK_DELIVERIES.STATUS, WEBHOOK_DELIVERIES.NEXT_ATTEMPT_AT,
                    WEBHOOK_DELIVERIES.CREATED_AT);
            for (Outgoing o : outgoing) {
                insert = insert.values(UUID.randomUUID(), o.endpointId(), o.message().id(), o.message().type().wireName(),
                        o.message().userId(), o.message().body(), PENDING, at, at);
            }
            // Rows of one statement take identity values in VALUES order, which keeps the per-user order.
            return insert.onConflict(WEBHOOK_DELIVERIES.ENDPOINT_ID, WEBHOOK_DELIVERIES.MESSAGE_ID).doNothing()
                    .execute();
        });
    }

    /**
     * The deliveries of {@code endpointId} due at {@code now}, oldest first, at most one per user: a
     * user's later event waits until the earlier one succeeded or ran out of retries.
     */
    public List<Due> due(UUID endpointId, Instant now, int limit) {
        WebhookDeliveries d = WEBHOOK_DELIVERIES.as("d");
        WebhookDeliveries earlier = WEBHOOK_DELIVERIES.as("earlier");
        return dsl.selectFrom(d)
                .where(d.ENDPOINT_ID.eq(endpointId))
                .and(d.STATUS.eq(PENDING))
                .and(d.NEXT_ATTEMPT_AT.le(utc(now)))
                .andNotExists(DSL.selectOne().from(earlier)
                        .where(earlier.ENDPOINT_ID.eq(d.ENDPOINT_ID))
                        .and(earlier.USER_ID.eq(d.USER_ID))
                        .and(earlier.STATUS.eq(PENDING))
                        .and(earlier.SEQ.lt(d.SEQ)))
                .orderBy(d.SEQ)
                .limit(limit)
                .fetch(r -> new Due(r.getId(), r.getEndpointId(), r.getMessageId(), r.getEventType(), r.getPayload(),
                        r.getAttempts(), r.getRoundAttempts(), r.getCreatedAt().toInstant()));
    }

    /**
     * Records one attempt and what follows: succeeded, pending until {@code retryAt}, or failed when
     * {@code retryAt} is empty. Returns the delivery's new status.
     */
    public String recordAttempt(Due delivery, Instant attemptedAt, Integer statusCode, long latencyMs, String error,
                                boolean succeeded, Optional<Instant> retryAt) {
        String status = succeeded ? SUCCEEDED : retryAt.isPresent() ? PENDING : FAILED;
        dsl.transaction(c -> {
            DSLContext tx = c.dsl();
            // The attempt number comes from the row, so a duplicate worker cannot write the same number twice.
            Record1<Integer> numbered = tx.update(WEBHOOK_DELIVERIES)
                    .set(WEBHOOK_DELIVERIES.ATTEMPTS, WEBHOOK_DELIVERIES.ATTEMPTS.plus(1))
                    .set(WEBHOOK_DELIVERIES.ROUND_ATTEMPTS, WEBHOOK_DELIVERIES.ROUND_ATTEMPTS.plus(1))
                    .set(WEBHOOK_DELIVERIES.STATUS, status)
                    .set(WEBHOOK_DELIVERIES.NEXT_ATTEMPT_AT, status.equals(PENDING) ? utc(retryAt.orElseThrow()) : null)
                    .set(WEBHOOK_DELIVERIES.FINISHED_AT, status.equals(PENDING) ? null : utc(attemptedAt))
                    .where(WEBHOOK_DELIVERIES.ID.eq(delivery.id()))
                    .returningResult(WEBHOOK_DELIVERIES.ATTEMPTS)
                    .fetchOne();
            if (numbered == null) {
                return; // the endpoint was deleted meanwhile, and its log with it
            }
            tx.insertInto(WEBHOOK_ATTEMPTS)
                    .set(WEBHOOK_ATTEMPTS.DELIVERY_ID, delivery.id())
                    .set(WEBHOOK_ATTEMPTS.ATTEMPT, numbered.value1())
                    .set(WEBHOOK_ATTEMPTS.ATTEMPTED_AT, utc(attemptedAt))
                    .set(WEBHOOK_ATTEMPTS.STATUS_CODE, statusCode)
                    .set(WEBHOOK_ATTEMPTS.LATENCY_MS, latencyMs)
                    .set(WEBHOOK_ATTEMPTS.ERROR, error)
                    .execute();
        });
        return status;
    }

    /** The newest {@code limit} deliveries of the endpoint with all their attempts. */
    public List<WebhookDelivery> list(UUID endpointId, int limit) {
        List<WebhookDeliveriesRecord> rows = dsl.selectFrom(WEBHOOK_DELIVERIES)
                .where(WEBHOOK_DELIVERIES.ENDPOINT_ID.eq(endpointId))
                .orderBy(WEBHOOK_DELIVERIES.SEQ.desc())
                .limit(limit)
                .fetch();
        Map<UUID, List<WebhookDelivery.Attempt>> attempts = attemptsOf(rows.stream().map(WebhookDeliveriesRecord::getId).toList());
        return rows.stream().map(r -> view(r, attempts.getOrDefault(r.getId(), List.of()))).toList();
    }

    public Optional<WebhookDelivery> find(UUID endpointId, UUID deliveryId) {
        return dsl.selectFrom(WEBHOOK_DELIVERIES)
                .where(WEBHOOK_DELIVERIES.ENDPOINT_ID.eq(endpointId)).and(WEBHOOK_DELIVERIES.ID.eq(deliveryId))
                .fetchOptional()
                .map(r -> view(r, attemptsOf(List.of(r.getId())).getOrDefault(r.getId(), List.of())));
    }

    /** What {@link #retry} found. */
    public enum RetryResult { QUEUED, ALREADY_PENDING, NOT_FOUND }

    /** Queues a finished delivery again, due now, with a fresh retry schedule. */
    public RetryResult retry(UUID endpointId, UUID deliveryId, Instant now) {
        int queued = dsl.update(WEBHOOK_DELIVERIES)
                .set(WEBHOOK_DELIVERIES.STATUS, PENDING)
                .set(WEBHOOK_DELIVERIES.ROUND_ATTEMPTS, 0)
                .set(WEBHOOK_DELIVERIES.NEXT_ATTEMPT_AT, utc(now))
                .set(WEBHOOK_DELIVERIES.FINISHED_AT, (OffsetDateTime) null)
                .where(WEBHOOK_DELIVERIES.ENDPOINT_ID.eq(endpointId))
                .and(WEBHOOK_DELIVERIES.ID.eq(deliveryId))
                .and(WEBHOOK_DELIVERIES.STATUS.ne(PENDING))
                .execute();
        if (queued == 1) {
            return RetryResult.QUEUED;
        }
        return find(endpointId, deliveryId).isPresent() ? RetryResult.ALREADY_PENDING : RetryResult.NOT_FOUND;
    }

    /** When the oldest pending delivery was created; empty when nothing is pending. */
    public Optional<Instant> oldestPending() {
        OffsetDateTime oldest = dsl.select(DSL.min(WEBHOOK_DELIVERIES.CREATED_AT)).from(WEBHOOK_DELIVERIES)
                .where(WEBHOOK_DELIVERIES.STATUS.eq(PENDING)).fetchOne(0, OffsetDateTime.class);
        return Optional.ofNullable(oldest).map(OffsetDateTime::toInstant);
    }

    /** The ids of every endpoint, for the dispatcher's workers. */
    public List<UUID> endpointIds() {
        return dsl.select(WEBHOOK_ENDPOINTS.ID).from(WEBHOOK_ENDPOINTS).fetch(Record1::value1);
    }

    /** Endpoint ids by subscribed event type, for the outbox. */
    public Map<String, List<UUID>> subscribers() {
        return dsl.select(WEBHOOK_ENDPOINTS.ID, WEBHOOK_ENDPOINTS.EVENT_TYPES).from(WEBHOOK_ENDPOINTS)
                .orderBy(WEBHOOK_ENDPOINTS.CREATED_AT, WEBHOOK_ENDPOINTS.ID)
                .fetch().stream()
                .flatMap(r -> java.util.Arrays.stream(r.value2()).map(type -> Map.entry(type, r.value1())))
                .collect(Collectors.groupingBy(Map.Entry::getKey, Collectors.mapping(Map.Entry::getValue, Collectors.toList())));
    }

    private Map<UUID, List<WebhookDelivery.Attempt>> attemptsOf(Collection<UUID> deliveryIds) {
        if (deliveryIds.isEmpty()) {
            return Map.of();
        }
        return dsl.selectFrom(WEBHOOK_ATTEMPTS)
                .where(WEBHOOK_ATTEMPTS.DELIVERY_ID.in(deliveryIds))
                .orderBy(WEBHOOK_ATTEMPTS.DELIVERY_ID, WEBHOOK_ATTEMPTS.ATTEMPT)
                .fetch().stream()
                .collect(Collectors.groupingBy(a -> a.getDeliveryId(), Collectors.mapping(a -> new WebhookDelivery.Attempt(
                        a.getAttempt(), a.getAttemptedAt().toInstant(), a.getStatusCode(), a.getLatencyMs(), a.getError()),
                        Collectors.toList())));
    }

    private static WebhookDelivery view(WebhookDeliveriesRecord r, List<WebhookDelivery.Attempt> attempts) {
        return new WebhookDelivery(r.getId(), r.getEndpointId(), r.getMessageId(), r.getEventType(), r.getUserId(),
                r.getStatus(), r.getCreatedAt().toInstant(), instant(r.getNextAttemptAt()), instant(r.getFinishedAt()),
                attempts);
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
