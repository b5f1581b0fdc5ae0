package io.usagemeter.notifier.db;

import static io.usagemeter.schema.jooq.Tables.WEBHOOK_ENDPOINTS;

import io.usagemeter.notifier.NotifierConfig;
import io.usagemeter.notifier.WebhookEndpoint;
import io.usagemeter.notifier.WebhookSignature;
import io.usagemeter.schema.jooq.tables.records.WebhookEndpointsRecord;
import io.usagemeter.schema.vault.TokenCipher.SealedToken;
import io.usagemeter.schema.vault.WebhookSecretCipher;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.jooq.DSLContext;

/** Webhook endpoints and their secrets, sealed with the token vault's keyset before they reach the table. */
public final class EndpointStore {

    /** What a delivery needs: where to send and which secrets sign (the current one first). */
    public record Destination(UUID id, String url, List<String> secrets) {
        @Override
        public String toString() {
            return "Destination[id=" + id + ", url=" + url + ", secrets=" + secrets.size() + "]";
        }
    }

    private final DSLContext dsl;
    private final WebhookSecretCipher cipher;
    private final Clock clock;

    public EndpointStore(DSLContext dsl, WebhookSecretCipher cipher, Clock clock) {
        this.dsl = dsl;
        this.cipher = cipher;
        this.clock = clock;
    }

    public WebhookEndpoint.WithSecret create(String url, List<String> eventTypes) {
        UUID id = UUID.randomUUID();
        String secret = WebhookSignature.newSecret();
        SealedToken sealed = cipher.seal(id, secret);
        WebhookEndpointsRecord row = dsl.insertInto(WEBHOOK_ENDPOINTS)
                .set(WEBHOOK_ENDPOINTS.ID, id)
                .set(WEBHOOK_ENDPOINTS.URL, url)
                .set(WEBHOOK_ENDPOINTS.EVENT_TYPES, eventTypes.toArray(String[]::new))
                .set(WEBHOOK_ENDPOINTS.SECRET_SEALED, sealed.ciphertext())
                .set(WEBHOOK_ENDPOINTS.SECRET_KEY_ID, sealed.keyId())
                .set(WEBHOOK_ENDPOINTS.CREATED_AT, utc(clock.instant()))
                .returning()
                .fetchOne();
        return WebhookEndpoint.WithSecret.of(view(row), secret);
    }

    public List<WebhookEndpoint> list() {
        return dsl.selectFrom(WEBHOOK_ENDPOINTS).orderBy(WEBHOOK_ENDPOINTS.CREATED_AT, WEBHOOK_ENDPOINTS.ID)
                .fetch(EndpointStore::view);
    }

    public Optional<WebhookEndpoint> find(UUID id) {
        return dsl.selectFrom(WEBHOOK_ENDPOINTS).where(WEBHOOK_ENDPOINTS.ID.eq(id)).fetchOptional(EndpointStore::view);
    }

    /** Removes the endpoint and its delivery log; false when there was none. */
    public boolean delete(UUID id) {
        return dsl.deleteFrom(WEBHOOK_ENDPOINTS).where(WEBHOOK_ENDPOINTS.ID.eq(id)).execute() == 1;
    }

    /**
     * A new secret signs from now on; the current one keeps signing beside it for
     * {@link NotifierConfig#SECRET_OVERLAP}. A secret rotated out earlier than that is dropped.
     */
    public Optional<WebhookEndpoint.WithSecret> rotateSecret(UUID id) {
        return dsl.transactionResult(c -> {
            DSLContext tx = c.dsl();
            WebhookEndpointsRecord row = tx.selectFrom(WEBHOOK_ENDPOINTS).where(WEBHOOK_ENDPOINTS.ID.eq(id)).forUpdate().fetchOne();
            if (row == null) {
                return Optional.empty();
            }
            String secret = WebhookSignature.newSecret();
            SealedToken sealed = cipher.seal(id, secret);
            Instant now = clock.instant();
            WebhookEndpointsRecord updated = tx.update(WEBHOOK_ENDPOINTS)
                    .set(WEBHOOK_ENDPOINTS.PREVIOUS_SECRET_SEALED, row.getSecretSealed())
                    .set(WEBHOOK_ENDPOINTS.PREVIOUS_SECRET_KEY_ID, row.getSecretKeyId())
                    .set(WEBHOOK_ENDPOINTS.PREVIOUS_SECRET_EXPIRES_AT, utc(now.plus(NotifierConfig.SECRET_OVERLAP)))
                    .set(WEBHOOK_ENDPOINTS.SECRET_SEALED, sealed.ciphertext())
                    .set(WEBHOOK_ENDPOINTS.SECRET_KEY_ID, sealed.keyId())
                    .where(WEBHOOK_ENDPOINTS.ID.eq(id))
                    .returning()
                    .fetchOne();
            return Optional.of(WebhookEndpoint.WithSecret.of(view(updated), secret));
        });
    }

    /** Where and how to deliver for the endpoint now; empty once it was deleted. */
    public Optional<Destination> destination(UUID id) {
        return dsl.selectFrom(WEBHOOK_ENDPOINTS).where(WEBHOOK_ENDPOINTS.ID.eq(id)).fetchOptional().map(row -> {
            List<String> secrets = new ArrayList<>(2);
            secrets.add(cipher.open(id, row.getSecretSealed()));
            OffsetDateTime expires = row.getPreviousSecretExpiresAt();
            if (expires != null && expires.toInstant().isAfter(clock.instant())) {
                secrets.add(cipher.open(id, row.getPreviousSecretSealed()));
            }
            return new Destination(id, row.getUrl(), secrets);
        });
    }

    private static WebhookEndpoint view(WebhookEndpointsRecord row) {
        OffsetDateTime expires = row.getPreviousSecretExpiresAt();
        return new WebhookEndpoint(row.getId(), row.getUrl(), Arrays.asList(row.getEventTypes()),
                row.getCreatedAt().toInstant(), expires == null ? null : expires.toInstant());
    }

    static OffsetDateTime utc(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC);
    }
}
