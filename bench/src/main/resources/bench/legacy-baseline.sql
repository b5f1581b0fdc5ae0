-- The older design, rebuilt for the benchmark suite only (never part of the product schema; it runs in a
-- database of its own, `legacy_baseline`): every API call is one synchronous INSERT into api_usage, a ROW
-- trigger upserts the caller's monthly_usage_summary row in the same transaction, and a limit check is a
-- SQL query joining the summary with the user's plan.

CREATE TABLE plans (
    name          text PRIMARY KEY,
    monthly_units bigint NOT NULL
);

CREATE TABLE users (
    user_id uuid PRIMARY KEY,
    plan    text NOT NULL REFERENCES plans (name)
);

CREATE TABLE api_usage (
    id               bigserial PRIMARY KEY,
    event_id         text NOT NULL,
    user_id          uuid NOT NULL,
    occurred_at      timestamptz NOT NULL,
    provider         text NOT NULL,
    endpoint         text NOT NULL,
    method           text NOT NULL,
    status_code      integer NOT NULL,
    response_time_ms bigint NOT NULL,
    request_bytes    bigint NOT NULL,
    response_bytes   bigint NOT NULL,
    tokens           bigint NOT NULL,
    units            bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, event_id)
);
CREATE INDEX api_usage_user_time_idx ON api_usage (user_id, occurred_at);

CREATE TABLE monthly_usage_summary (
    user_id          uuid NOT NULL,
    month            date NOT NULL,
    calls            bigint NOT NULL DEFAULT 0,
    units            bigint NOT NULL DEFAULT 0,
    successful_calls bigint NOT NULL DEFAULT 0,
    failed_calls     bigint NOT NULL DEFAULT 0,
    tokens           bigint NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, month)
);

CREATE FUNCTION api_usage_summarise() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO monthly_usage_summary AS s (user_id, month, calls, units, successful_calls, failed_calls, tokens)
    VALUES (NEW.user_id, date_trunc('month', NEW.occurred_at AT TIME ZONE 'UTC')::date, 1, NEW.units,
            CASE WHEN NEW.status_code < 400 THEN 1 ELSE 0 END,
            CASE WHEN NEW.status_code >= 400 THEN 1 ELSE 0 END,
            NEW.tokens)
    ON CONFLICT (user_id, month) DO UPDATE
        SET calls            = s.calls + 1,
            units            = s.units + EXCLUDED.units,
            successful_calls = s.successful_calls + EXCLUDED.successful_calls,
            failed_calls     = s.failed_calls + EXCLUDED.failed_calls,
            tokens           = s.tokens + EXCLUDED.tokens,
            updated_at       = now();
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_usage_summary_upsert
    AFTER INSERT ON api_usage
    FOR EACH ROW EXECUTE FUNCTION api_usage_summarise();

INSERT INTO plans (name, monthly_units) VALUES ('free', 1000), ('pro', 100000), ('enterprise', 10000000);
