-- V9 Webhooks: endpoints that receive limit events, their signing secrets, and the delivery log.
--
-- The notifier consumes meter.limit-events and writes one delivery row per subscribed endpoint
-- before it commits its Kafka offset (an outbox), so a crash never loses an event; a redelivered
-- record hits the unique (endpoint_id, message_id) and adds nothing.

CREATE TABLE webhook_endpoints (
    id                          uuid        PRIMARY KEY,
    url                         text        NOT NULL CHECK (length(url) BETWEEN 8 AND 2048 AND url ~ '^https?://'),
    event_types                 text[]      NOT NULL CHECK (cardinality(event_types) >= 1
                                    AND event_types <@ ARRAY['limit.warning', 'limit.exceeded', 'limit.resolved']::text[]),
    -- The whsec_ secret sealed with the token vault's keyset (AES-256-GCM, Tink prefix naming the key);
    -- never stored in clear.
    secret_sealed               bytea       NOT NULL,
    secret_key_id               bigint      NOT NULL,
    -- After a rotation the previous secret still signs until previous_secret_expires_at.
    previous_secret_sealed      bytea,
    previous_secret_key_id      bigint,
    previous_secret_expires_at  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    CHECK ((previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL)
        AND (previous_secret_sealed IS NULL) = (previous_secret_key_id IS NULL))
);

COMMENT ON TABLE webhook_endpoints IS 'Webhook receivers of limit events; secrets sealed with METER_TOKEN_KEYSET.';

CREATE TABLE webhook_deliveries (
    id               uuid        PRIMARY KEY,
    -- Delivery order per endpoint and user.
    seq              bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    endpoint_id      uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- The webhook-id header: derived from the event, the same for every attempt and every restart.
    message_id       text        NOT NULL CHECK (length(message_id) BETWEEN 1 AND 64),
    event_type       text        NOT NULL CHECK (event_type IN ('limit.warning', 'limit.exceeded', 'limit.resolved')),
    user_id          uuid        NOT NULL,
    -- The exact body that is signed and sent (text, not jsonb, which would reformat it).
    payload          text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Attempts since the delivery was (re)queued: the position in the retry schedule.
    round_attempts   integer     NOT NULL DEFAULT 0 CHECK (round_attempts >= 0),
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL,
    finished_at      timestamptz,
    UNIQUE (endpoint_id, message_id),
    CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL))
);

COMMENT ON TABLE webhook_deliveries IS 'One limit event for one endpoint: pending until delivered or out of retries.';
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (endpoint_id, user_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, seq);

CREATE TABLE webhook_attempts (
    delivery_id   uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       integer     NOT NULL CHECK (attempt >= 1),
    attempted_at  timestamptz NOT NULL,
    -- null when no answer came (refused address, connection error, timeout).
    status_code   integer     CHECK (status_code BETWEEN 100 AND 599),
    latency_ms    bigint      NOT NULL CHECK (latency_ms >= 0),
    error         text        CHECK (length(error) <= 1000),
    PRIMARY KEY (delivery_id, attempt)
);

COMMENT ON TABLE webhook_attempts IS 'Every attempt of a webhook delivery: status code, latency, error.';
