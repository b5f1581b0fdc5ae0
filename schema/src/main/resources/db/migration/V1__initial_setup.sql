-- V1 initial setup: users, their JWT sessions, and generic product analytics.
--
-- Conventions for every migration: timestamptz for instants, identity columns instead of serial,
-- CHECK constraints for the domain rules the database can hold, a comment on every table.
-- No triggers: writers set updated_at themselves, and summaries are computed by the stream.

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    -- Users first seen in usage events have no e-mail yet; UNIQUE still allows many NULLs.
    email        text UNIQUE CHECK (email IS NULL OR (char_length(email) BETWEEN 3 AND 320 AND email LIKE '%_@_%')),
    display_name text CHECK (display_name IS NULL OR char_length(display_name) <= 200),
    plan         text NOT NULL DEFAULT 'free',
    is_admin     boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE users IS
    'Platform users. A row may be created on first sight of a user id (event, referral, admin command), without e-mail.';
COMMENT ON COLUMN users.plan IS 'Subscription plan; its monthly units are in subscription_limits.';

CREATE TABLE user_sessions (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CHECK (expires_at > issued_at),
    CHECK (revoked_at IS NULL OR revoked_at >= issued_at)
);
COMMENT ON TABLE user_sessions IS
    'JWT sessions: id is the token''s jti. A token is valid while now() < expires_at and revoked_at IS NULL.';
CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);

CREATE TABLE analytics_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    properties  jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(properties) = 'object'),
    occurred_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE analytics_events IS
    'Generic product analytics (page views, sign-ups, feature use); not usage metering, which is api_usage.';
CREATE INDEX analytics_events_name_occurred_at_idx ON analytics_events (name, occurred_at);
CREATE INDEX analytics_events_user_id_occurred_at_idx ON analytics_events (user_id, occurred_at);
