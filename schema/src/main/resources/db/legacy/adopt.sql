-- Copies the older system's rows (schema "legacy") into the migrated schema ("public").
-- Run by io.usagemeter.schema.legacy.LegacyAdoption in ONE transaction, after Flyway migrated "public".
-- Each "-- @copy <table> from <legacy table>" section is one INSERT whose row count is reported;
-- "-- @step <what>" sections are uncounted preparation. Legacy timestamps are "timestamp without
-- time zone" holding UTC. The legacy summary trigger is not carried over: the stream computes summaries.
-- Nothing here creates objects in "public" beyond rows and api_usage month partitions, so the schema
-- stays exactly what the migrations define.

-- @copy subscription_limits from subscription_limits
-- The running system's plans win over the seeded defaults.
INSERT INTO public.subscription_limits AS l (plan, monthly_units, description, updated_at)
SELECT lower(s.plan_name), s.monthly_api_calls, s.description, now()
FROM legacy.subscription_limits s
ON CONFLICT (plan) DO UPDATE
    SET monthly_units = EXCLUDED.monthly_units,
        description = coalesce(EXCLUDED.description, l.description),
        updated_at = EXCLUDED.updated_at;

-- @copy users from users
INSERT INTO public.users (id, email, display_name, plan, is_admin, created_at, updated_at,
                          referral_code, referral_count, bonus_credits)
SELECT u.id, u.email, u.name, lower(coalesce(u.plan, 'free')), coalesce(u.is_admin, false),
       coalesce(u.created_at AT TIME ZONE 'UTC', now()),
       coalesce(u.updated_at AT TIME ZONE 'UTC', u.created_at AT TIME ZONE 'UTC', now()),
       coalesce(u.referral_code, public.new_referral_code()),
       coalesce(u.referral_count, 0), coalesce(u.bonus_credits, 0)
FROM legacy.users u;

-- @step users.referred_by (needs every user first)
UPDATE public.users n
SET referred_by = u.referred_by
FROM legacy.users u
WHERE u.id = n.id AND u.referred_by IS NOT NULL AND u.referred_by <> u.id;

-- @copy user_sessions from user_sessions
INSERT INTO public.user_sessions (id, user_id, issued_at, expires_at, revoked_at)
SELECT s.id, s.user_id, s.created_at AT TIME ZONE 'UTC', s.expires_at AT TIME ZONE 'UTC',
       -- The older system only knew "inactive", not when: revoked at the latest by its expiry.
       CASE WHEN NOT coalesce(s.is_active, true) THEN least(now(), s.expires_at AT TIME ZONE 'UTC') END
FROM legacy.user_sessions s
WHERE s.user_id IS NOT NULL AND s.created_at IS NOT NULL AND s.expires_at > s.created_at;

-- @copy analytics_events from analytics_events
INSERT INTO public.analytics_events (user_id, name, properties, occurred_at)
SELECT e.user_id, left(e.event_type, 200),
       CASE WHEN e.event_data IS NULL THEN '{}'::jsonb
            WHEN jsonb_typeof(e.event_data) = 'object' THEN e.event_data
            ELSE jsonb_build_object('value', e.event_data) END,
       coalesce(e.created_at AT TIME ZONE 'UTC', now())
FROM legacy.analytics_events e
ORDER BY e.id;

-- @copy user_tokens from user_tokens
-- Node's crypto wrote hex (base64 accepted too); the vault re-encrypts these rows with Tink on rotation.
INSERT INTO public.user_tokens (user_id, provider, ciphertext, nonce, key_id, scheme, created_at)
SELECT t.user_id, lower(t.provider),
       CASE WHEN t.encrypted_token ~ '^([0-9A-Fa-f]{2})+$' THEN decode(t.encrypted_token, 'hex')
            ELSE decode(t.encrypted_token, 'base64') END,
       CASE WHEN t.iv ~ '^([0-9A-Fa-f]{2})+$' THEN decode(t.iv, 'hex') ELSE decode(t.iv, 'base64') END,
       0, 'legacy-aes256-cbc', coalesce(t.created_at AT TIME ZONE 'UTC', now())
FROM legacy.user_tokens t
WHERE t.user_id IS NOT NULL;

-- @step api_usage partitions of every legacy month
SELECT public.ensure_api_usage_partition(m.month)
FROM (SELECT DISTINCT date_trunc('month', a.created_at)::date AS month
      FROM legacy.api_usage a WHERE a.created_at IS NOT NULL) AS m;

-- @copy api_usage from api_usage
-- Rows without user, time or a valid HTTP status cannot be usage events; the counts show them.
INSERT INTO public.api_usage (event_id, user_id, occurred_at, provider, endpoint, method, status_code,
                              response_time_ms, request_bytes, response_bytes, tokens, units, ingested_at)
SELECT 'legacy-' || a.id, a.user_id, a.created_at AT TIME ZONE 'UTC',
       CASE WHEN lower(a.provider) IN ('github', 'openai', 'anthropic', 'gemini') THEN lower(a.provider)
            ELSE 'other' END,
       left(a.endpoint, 512), left(upper(coalesce(nullif(a.method, ''), 'GET')), 32), a.status_code,
       greatest(coalesce(a.response_time_ms, 0), 0), greatest(coalesce(a.request_size, 0), 0),
       greatest(coalesce(a.response_size, 0), 0), greatest(coalesce(a.tokens_used, 0), 0),
       1, a.created_at AT TIME ZONE 'UTC'
FROM legacy.api_usage a
WHERE a.user_id IS NOT NULL AND a.created_at IS NOT NULL AND a.status_code BETWEEN 100 AND 599;

-- @copy monthly_usage_summary from monthly_usage_summary
-- The legacy counters are the truth (an admin reset zeroed them, the raw rows stay). Fields the older
-- summary lacked are derived from the raw rows only where those rows still add up to its calls.
WITH raw AS (
    SELECT a.user_id, to_char(a.created_at, 'YYYY-MM') AS month, count(*) AS calls,
           sum(greatest(coalesce(a.request_size, 0), 0)) AS request_bytes,
           sum(greatest(coalesce(a.response_size, 0), 0)) AS response_bytes,
           max(greatest(coalesce(a.response_time_ms, 0), 0)) AS response_time_ms_max,
           min(a.created_at) AT TIME ZONE 'UTC' AS first_event_at,
           max(a.created_at) AT TIME ZONE 'UTC' AS last_event_at
    FROM legacy.api_usage a
    GROUP BY 1, 2
), by_provider AS (
    SELECT p.user_id, p.month, jsonb_object_agg(p.provider, p.calls) AS calls_by_provider
    FROM (SELECT a.user_id, to_char(a.created_at, 'YYYY-MM') AS month,
                 CASE WHEN lower(a.provider) IN ('github', 'openai', 'anthropic', 'gemini') THEN lower(a.provider)
                      ELSE 'other' END AS provider,
                 count(*) AS calls
          FROM legacy.api_usage a
          GROUP BY 1, 2, 3) AS p
    GROUP BY 1, 2
)
INSERT INTO public.monthly_usage_summary (user_id, month, calls, units, successful_calls, failed_calls, tokens,
                                          request_bytes, response_bytes, response_time_ms_sum,
                                          response_time_ms_max, first_event_at, last_event_at,
                                          calls_by_provider, updated_at)
SELECT s.user_id, to_date(s.month, 'YYYY-MM'),
       coalesce(s.total_calls, 0),
       coalesce(s.total_calls, 0), -- every legacy call cost one unit
       coalesce(s.successful_calls, 0), coalesce(s.failed_calls, 0), coalesce(s.total_tokens, 0),
       CASE WHEN whole THEN r.request_bytes ELSE 0 END,
       CASE WHEN whole THEN r.response_bytes ELSE 0 END,
       round(coalesce(s.avg_response_time_ms, 0) * coalesce(s.total_calls, 0))::bigint,
       CASE WHEN whole THEN r.response_time_ms_max ELSE 0 END,
       CASE WHEN whole THEN r.first_event_at END,
       CASE WHEN whole THEN r.last_event_at END,
       CASE WHEN whole THEN p.calls_by_provider ELSE '{}'::jsonb END,
       coalesce(s.updated_at AT TIME ZONE 'UTC', now())
FROM legacy.monthly_usage_summary s
LEFT JOIN raw r ON r.user_id = s.user_id AND r.month = s.month
LEFT JOIN by_provider p ON p.user_id = s.user_id AND p.month = s.month
CROSS JOIN LATERAL (SELECT coalesce(r.calls = s.total_calls AND s.total_calls > 0, false) AS whole) AS w
WHERE s.user_id IS NOT NULL;

-- @copy user_referrals from user_referrals
-- Legacy rows without a referred user are shared codes nobody used yet: nothing to carry over.
INSERT INTO public.user_referrals (referral_id, referrer_id, referred_id, status, created_at, completed_at)
SELECT 'legacy-' || r.id, r.referrer_id, r.referred_id,
       CASE WHEN r.status = 'completed' THEN 'completed' ELSE 'pending' END,
       coalesce(r.created_at AT TIME ZONE 'UTC', now()),
       CASE WHEN r.status = 'completed'
            THEN coalesce(r.completed_at AT TIME ZONE 'UTC', r.created_at AT TIME ZONE 'UTC', now()) END
FROM legacy.user_referrals r
WHERE r.referrer_id IS NOT NULL AND r.referred_id IS NOT NULL;
