-- V3 API usage tracking: one row per usage event, monthly summaries written by the stream,
-- and the plans' monthly limits.

CREATE TABLE api_usage (
    event_id         text NOT NULL CHECK (char_length(event_id) BETWEEN 1 AND 128),
    user_id          uuid NOT NULL,
    occurred_at      timestamptz NOT NULL,
    provider         text NOT NULL CHECK (provider IN ('github', 'openai', 'anthropic', 'gemini', 'other')),
    endpoint         text NOT NULL CHECK (char_length(endpoint) <= 512),
    method           text NOT NULL CHECK (char_length(method) BETWEEN 1 AND 32),
    status_code      integer NOT NULL CHECK (status_code BETWEEN 100 AND 599),
    response_time_ms bigint NOT NULL CHECK (response_time_ms >= 0),
    request_bytes    bigint NOT NULL CHECK (request_bytes >= 0),
    response_bytes   bigint NOT NULL CHECK (response_bytes >= 0),
    tokens           bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    units            bigint NOT NULL DEFAULT 1 CHECK (units >= 1),
    ingested_at      timestamptz NOT NULL DEFAULT now(),
    -- The dedupe key is (user_id, event_id), but a unique key of a partitioned table must contain
    -- the partition column. Adding occurred_at keeps the key exact in practice: the stream dedupes
    -- by (user_id, event_id) before the sink, and a sink retry re-inserts the same occurred_at, so
    -- ON CONFLICT DO NOTHING on this key makes the sink idempotent.
    PRIMARY KEY (user_id, event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE api_usage IS
    'One row per deduplicated usage event (the event contract v1), partitioned by UTC month of occurred_at. '
    'No foreign key to users: events are facts from the stream and may name users not seen before.';
COMMENT ON COLUMN api_usage.units IS 'What the call costs against the monthly limit.';
COMMENT ON COLUMN api_usage.ingested_at IS 'When the sink wrote the row.';

CREATE INDEX api_usage_occurred_at_idx ON api_usage (occurred_at);

-- Rows outside every monthly partition land here rather than failing the sink;
-- ensure_api_usage_partition moves them out when their month's partition is created.
CREATE TABLE api_usage_pdefault PARTITION OF api_usage DEFAULT;
COMMENT ON TABLE api_usage_pdefault IS 'Rows of months without a partition of their own yet.';

CREATE FUNCTION ensure_api_usage_partition(p_month date) RETURNS boolean
    LANGUAGE plpgsql
AS $$
DECLARE
    first_day date        := date_trunc('month', p_month)::date;
    lower_at  timestamptz := first_day::timestamp AT TIME ZONE 'UTC';
    upper_at  timestamptz := (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC';
    part_name text        := 'api_usage_p' || to_char(first_day, 'YYYYMM');
BEGIN
    IF p_month IS NULL THEN
        RAISE EXCEPTION 'ensure_api_usage_partition: month must not be null';
    END IF;
    -- Serialises concurrent callers for the same month; the lock ends with the transaction.
    PERFORM pg_advisory_xact_lock(hashtext('api_usage_partition'), hashtext(part_name));
    IF to_regclass(format('%I', part_name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- A partition cannot be created while the default partition holds rows of its range:
    -- build it detached, move those rows into it, then attach it.
    EXECUTE format('CREATE TABLE %I (LIKE api_usage INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part_name);
    EXECUTE format(
        'WITH moved AS (DELETE FROM api_usage_pdefault WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', lower_at, upper_at, part_name);
    EXECUTE format('ALTER TABLE api_usage ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part_name, lower_at, upper_at);
    EXECUTE format('COMMENT ON TABLE %I IS %L', part_name, 'api_usage rows of ' || to_char(first_day, 'YYYY-MM') || ' (UTC)');
    RETURN true;
END;
$$;
COMMENT ON FUNCTION ensure_api_usage_partition(date) IS
    'Creates the api_usage partition of the UTC month containing p_month unless it exists; true when created. Idempotent.';

DO $$
BEGIN
    PERFORM ensure_api_usage_partition(m::date)
    FROM generate_series(date '2024-01-01', date '2027-12-01', interval '1 month') AS m;
END;
$$;

CREATE TABLE monthly_usage_summary (
    user_id              uuid NOT NULL,
    month                date NOT NULL CHECK (month = date_trunc('month', month)::date),
    calls                bigint NOT NULL DEFAULT 0 CHECK (calls >= 0),
    units                bigint NOT NULL DEFAULT 0 CHECK (units >= 0),
    successful_calls     bigint NOT NULL DEFAULT 0 CHECK (successful_calls >= 0),
    failed_calls         bigint NOT NULL DEFAULT 0 CHECK (failed_calls >= 0),
    tokens               bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
    request_bytes        bigint NOT NULL DEFAULT 0 CHECK (request_bytes >= 0),
    response_bytes       bigint NOT NULL DEFAULT 0 CHECK (response_bytes >= 0),
    response_time_ms_sum bigint NOT NULL DEFAULT 0 CHECK (response_time_ms_sum >= 0),
    response_time_ms_max bigint NOT NULL DEFAULT 0 CHECK (response_time_ms_max >= 0),
    first_event_at       timestamptz,
    last_event_at        timestamptz,
    calls_by_provider    jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(calls_by_provider) = 'object'),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, month),
    CHECK (successful_calls + failed_calls = calls),
    CHECK (first_event_at <= last_event_at)
);
COMMENT ON TABLE monthly_usage_summary IS
    'Per user and UTC calendar month of occurred_at. Written only by the aggregator stream''s sink '
    '(the stream''s values overwrite the row); no trigger computes it. successful_calls are status < 400.';
COMMENT ON COLUMN monthly_usage_summary.month IS 'First day of the UTC month.';
COMMENT ON COLUMN monthly_usage_summary.calls_by_provider IS 'Calls per provider, e.g. {"openai": 12, "github": 3}.';

CREATE TABLE subscription_limits (
    plan          text PRIMARY KEY CHECK (plan ~ '^[a-z][a-z0-9_-]{0,31}$'),
    monthly_units bigint NOT NULL CHECK (monthly_units >= 0),
    description   text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE subscription_limits IS
    'Monthly units per plan, before referral multiplier and bonus credits.';

INSERT INTO subscription_limits (plan, monthly_units, description) VALUES
    ('free', 1000, 'Default plan: the platform is free'),
    ('pro', 50000, 'Individual heavy use'),
    ('team', 250000, 'Shared team allowance');

ALTER TABLE users ADD CONSTRAINT users_plan_fkey
    FOREIGN KEY (plan) REFERENCES subscription_limits (plan) ON UPDATE CASCADE;
CREATE INDEX users_plan_idx ON users (plan);

-- The month's summary and its limit. V4 redefines it once referrals and bonus credits exist.
CREATE FUNCTION get_user_usage_stats(
    p_user uuid, p_month date,
    OUT month date, OUT plan text, OUT plan_units bigint, OUT effective_limit bigint,
    OUT used bigint, OUT remaining bigint,
    OUT calls bigint, OUT units bigint, OUT successful_calls bigint, OUT failed_calls bigint, OUT tokens bigint,
    OUT request_bytes bigint, OUT response_bytes bigint,
    OUT response_time_ms_sum bigint, OUT response_time_ms_max bigint,
    OUT first_event_at timestamptz, OUT last_event_at timestamptz, OUT calls_by_provider jsonb)
    LANGUAGE sql STABLE
AS $$
    SELECT date_trunc('month', p_month)::date,
           coalesce(u.plan, 'free'),
           l.monthly_units,
           l.monthly_units,
           coalesce(s.units, 0),
           greatest(l.monthly_units - coalesce(s.units, 0), 0),
           coalesce(s.calls, 0), coalesce(s.units, 0), coalesce(s.successful_calls, 0),
           coalesce(s.failed_calls, 0), coalesce(s.tokens, 0),
           coalesce(s.request_bytes, 0), coalesce(s.response_bytes, 0),
           coalesce(s.response_time_ms_sum, 0), coalesce(s.response_time_ms_max, 0),
           s.first_event_at, s.last_event_at, coalesce(s.calls_by_provider, '{}'::jsonb)
    FROM (SELECT p_user AS id) AS who
    LEFT JOIN users u ON u.id = who.id
    LEFT JOIN subscription_limits l ON l.plan = coalesce(u.plan, 'free')
    LEFT JOIN monthly_usage_summary s ON s.user_id = who.id AND s.month = date_trunc('month', p_month)::date
$$;
