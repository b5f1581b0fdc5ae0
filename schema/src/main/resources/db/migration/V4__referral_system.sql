-- V4 referral system: referral codes and counters on users, referrals, idempotent command
-- functions, the effective-limit formula, and the overview views.

-- 8 characters from a 32-symbol alphabet without look-alikes (no I, O, 0, 1): 40 random bits.
CREATE FUNCTION new_referral_code() RETURNS text
    LANGUAGE sql VOLATILE
AS $$
    SELECT string_agg(substr('ABCDEFGHJKLMNPQRSTUVWXYZ23456789', get_byte(r.b, i) % 32 + 1, 1), '' ORDER BY i)
    -- bytes 6..9 of a v4 UUID carry version and variant bits; the others are random.
    FROM (SELECT uuid_send(gen_random_uuid()) AS b) AS r,
         unnest(ARRAY[0, 1, 2, 3, 4, 5, 10, 11]) AS i
$$;
COMMENT ON FUNCTION new_referral_code() IS 'A fresh random referral code (default of users.referral_code).';

ALTER TABLE users
    ADD COLUMN referral_code  text NOT NULL DEFAULT new_referral_code()
        CONSTRAINT users_referral_code_key UNIQUE
        CONSTRAINT users_referral_code_check CHECK (char_length(referral_code) BETWEEN 4 AND 64),
    ADD COLUMN referred_by    uuid REFERENCES users (id) ON DELETE SET NULL
        CONSTRAINT users_referred_by_check CHECK (referred_by <> id),
    ADD COLUMN referral_count integer NOT NULL DEFAULT 0 CONSTRAINT users_referral_count_check CHECK (referral_count >= 0),
    ADD COLUMN bonus_credits  bigint NOT NULL DEFAULT 0 CONSTRAINT users_bonus_credits_check CHECK (bonus_credits >= 0);
COMMENT ON COLUMN users.referral_count IS 'Completed referrals made by this user; each adds 2 % to the limit, up to 200 %.';
COMMENT ON COLUMN users.bonus_credits IS 'Units added to the allowance every month (10 per completed referral, plus admin grants).';

CREATE TABLE user_referrals (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    referral_id  text UNIQUE CHECK (char_length(referral_id) BETWEEN 1 AND 128),
    referrer_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    referred_id  uuid NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CHECK (referrer_id <> referred_id),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
COMMENT ON TABLE user_referrals IS
    'One row per referred user (a user may be referred once; self-referral is impossible by constraint).';
COMMENT ON COLUMN user_referrals.referral_id IS 'The referral''s id on the wire, or the command that created the row.';
CREATE INDEX user_referrals_referrer_id_idx ON user_referrals (referrer_id);

CREATE TABLE applied_commands (
    command_id text PRIMARY KEY CHECK (char_length(command_id) BETWEEN 1 AND 200),
    kind       text NOT NULL CHECK (kind ~ '^[a-z][a-z_]*$'),
    user_id    uuid,
    applied_at timestamptz NOT NULL DEFAULT now(),
    result     jsonb NOT NULL CHECK (jsonb_typeof(result) = 'object')
);
COMMENT ON TABLE applied_commands IS
    'Commands the functions have applied, refusals included, with their result: a redelivered command '
    'returns this result and changes nothing. Also the audit trail of admin actions.';
CREATE INDEX applied_commands_user_id_idx ON applied_commands (user_id, applied_at);

CREATE TABLE usage_resets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month      date NOT NULL CHECK (month = date_trunc('month', month)::date),
    reset_at   timestamptz NOT NULL,
    command_id text NOT NULL UNIQUE REFERENCES applied_commands (command_id),
    CHECK (reset_at >= month::timestamp AT TIME ZONE 'UTC')
);
COMMENT ON TABLE usage_resets IS
    'Admin usage resets: from reset_at the month counts only events with occurred_at > reset_at. '
    'The stream applies the reset; this table records it.';
CREATE INDEX usage_resets_user_id_month_idx ON usage_resets (user_id, month, reset_at);

-- The limit rules of product.md, each in exactly one place.
CREATE FUNCTION referral_multiplier(p_referral_count integer) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT least(greatest(p_referral_count, 0) * 0.02, 2.0) $$;
COMMENT ON FUNCTION referral_multiplier(integer) IS '+2 % per completed referral, capped at +200 % (0.0 to 2.0).';

CREATE FUNCTION effective_limit(p_plan_units bigint, p_referral_count integer, p_bonus_credits bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT floor(p_plan_units * (1 + referral_multiplier(p_referral_count)))::bigint + p_bonus_credits $$;
COMMENT ON FUNCTION effective_limit(bigint, integer, bigint) IS
    'floor(plan_units * (1 + multiplier)) + bonus_credits.';

CREATE FUNCTION usage_state(p_used bigint, p_effective_limit bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
               WHEN p_used >= p_effective_limit THEN 'exceeded'
               WHEN p_used::numeric * 100 >= p_effective_limit::numeric * 80 THEN 'warning'
               ELSE 'ok'
           END
$$;
COMMENT ON FUNCTION usage_state(bigint, bigint) IS 'ok below 80 % of the limit, warning from 80 %, exceeded at 100 %.';

-- Users first seen in usage events or commands have no row yet.
CREATE FUNCTION ensure_user(p_user uuid) RETURNS void
    LANGUAGE sql
AS $$ INSERT INTO users (id) VALUES (p_user) ON CONFLICT (id) DO NOTHING $$;
COMMENT ON FUNCTION ensure_user(uuid) IS 'Creates the users row of p_user (plan free, no e-mail) unless it exists.';

-- Idempotency of the command functions: serialise on the command id, then return the stored result
-- of an already applied command (NULL when it is new).
CREATE FUNCTION applied_command_result(p_command_id text, p_kind text) RETURNS jsonb
    LANGUAGE plpgsql
AS $$
DECLARE
    prior applied_commands%ROWTYPE;
BEGIN
    IF p_command_id IS NULL OR p_command_id = '' THEN
        RAISE EXCEPTION '%: a command id is required', p_kind USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('applied_commands'), hashtext(p_command_id));
    SELECT * INTO prior FROM applied_commands c WHERE c.command_id = p_command_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF prior.kind <> p_kind THEN
        RAISE EXCEPTION 'command % was applied as %, not %', p_command_id, prior.kind, p_kind
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN prior.result;
END;
$$;

CREATE FUNCTION record_applied_command(p_command_id text, p_kind text, p_user uuid, p_result jsonb) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO applied_commands (command_id, kind, user_id, result) VALUES (p_command_id, p_kind, p_user, p_result)
$$;

CREATE FUNCTION complete_referral(
    p_command_id text, p_referrer uuid, p_referred uuid,
    OUT outcome text, OUT reason text, OUT referral_count integer, OUT bonus_credits bigint)
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    prior            jsonb;
    existing         user_referrals%ROWTYPE;
    current_referrer uuid;
BEGIN
    IF p_referrer IS NULL OR p_referred IS NULL THEN
        RAISE EXCEPTION 'complete_referral: referrer and referred are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    prior := applied_command_result(p_command_id, 'complete_referral');
    IF prior IS NOT NULL THEN
        outcome := prior ->> 'outcome';
        reason := prior ->> 'reason';
        referral_count := (prior ->> 'referral_count')::integer;
        bonus_credits := (prior ->> 'bonus_credits')::bigint;
        RETURN;
    END IF;

    PERFORM ensure_user(p_referrer);
    PERFORM ensure_user(p_referred);
    -- Every decision about who referred this user is taken under the lock of their row.
    SELECT u.referred_by INTO current_referrer FROM users u WHERE u.id = p_referred FOR UPDATE;
    SELECT * INTO existing FROM user_referrals r WHERE r.referred_id = p_referred;

    IF p_referrer = p_referred THEN
        outcome := 'refused';
        reason := 'self_referral';
    ELSIF existing.referrer_id <> p_referrer OR current_referrer <> p_referrer THEN
        outcome := 'refused';
        reason := 'already_referred';
    ELSIF existing.status = 'completed' THEN
        outcome := 'refused';
        reason := 'already_completed';
    ELSE
        IF existing.id IS NULL THEN
            INSERT INTO user_referrals (referral_id, referrer_id, referred_id, status, completed_at)
            VALUES (p_command_id, p_referrer, p_referred, 'completed', now());
        ELSE
            UPDATE user_referrals r SET status = 'completed', completed_at = now() WHERE r.id = existing.id;
        END IF;
        UPDATE users u SET referred_by = p_referrer, updated_at = now() WHERE u.id = p_referred;
        -- product.md: each completed referral gives the referrer +10 bonus credits and +2 % multiplier.
        UPDATE users u
        SET referral_count = u.referral_count + 1, bonus_credits = u.bonus_credits + 10, updated_at = now()
        WHERE u.id = p_referrer;
        outcome := 'completed';
    END IF;

    SELECT u.referral_count, u.bonus_credits INTO referral_count, bonus_credits FROM users u WHERE u.id = p_referrer;
    PERFORM record_applied_command(p_command_id, 'complete_referral', p_referrer, jsonb_build_object(
        'outcome', outcome, 'reason', reason, 'referrer_id', p_referrer, 'referred_id', p_referred,
        'referral_count', referral_count, 'bonus_credits', bonus_credits));
END;
$$;
COMMENT ON FUNCTION complete_referral(text, uuid, uuid) IS
    'Completes (or creates completed) the referral of p_referred by p_referrer: +10 bonus credits and +1 referral '
    'for the referrer. Refuses (outcome refused, reason self_referral | already_referred | already_completed) '
    'instead of raising. Idempotent on the command id.';

CREATE FUNCTION admin_reset_user_usage(
    p_command_id text, p_user uuid, p_month date, p_reset_at timestamptz,
    OUT outcome text, OUT reason text, OUT month date, OUT reset_at timestamptz)
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    prior jsonb;
BEGIN
    IF p_user IS NULL OR p_month IS NULL OR p_reset_at IS NULL THEN
        RAISE EXCEPTION 'admin_reset_user_usage: user, month and reset instant are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    prior := applied_command_result(p_command_id, 'admin_reset_user_usage');
    IF prior IS NOT NULL THEN
        outcome := prior ->> 'outcome';
        reason := prior ->> 'reason';
        month := (prior ->> 'month')::date;
        reset_at := (prior ->> 'reset_at')::timestamptz;
        RETURN;
    END IF;

    month := date_trunc('month', p_month)::date;
    reset_at := p_reset_at;
    PERFORM ensure_user(p_user);
    IF p_reset_at < month::timestamp AT TIME ZONE 'UTC' THEN
        outcome := 'refused';
        reason := 'reset_before_month';
        PERFORM record_applied_command(p_command_id, 'admin_reset_user_usage', p_user, jsonb_build_object(
            'outcome', outcome, 'reason', reason, 'month', month, 'reset_at', reset_at));
    ELSE
        outcome := 'applied';
        -- The command row first: usage_resets.command_id references it.
        PERFORM record_applied_command(p_command_id, 'admin_reset_user_usage', p_user, jsonb_build_object(
            'outcome', outcome, 'reason', reason, 'month', month, 'reset_at', reset_at));
        INSERT INTO usage_resets (user_id, month, reset_at, command_id)
        VALUES (p_user, date_trunc('month', p_month)::date, p_reset_at, p_command_id);
    END IF;
END;
$$;
COMMENT ON FUNCTION admin_reset_user_usage(text, uuid, date, timestamptz) IS
    'Records that p_user''s usage of the month of p_month counts only events after p_reset_at (the stream applies '
    'it). Refuses a reset instant before the month (reason reset_before_month). Idempotent on the command id.';

CREATE FUNCTION admin_add_bonus_credits(
    p_command_id text, p_user uuid, p_amount bigint,
    OUT outcome text, OUT reason text, OUT bonus_credits bigint)
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    prior jsonb;
BEGIN
    IF p_user IS NULL THEN
        RAISE EXCEPTION 'admin_add_bonus_credits: user is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    prior := applied_command_result(p_command_id, 'admin_add_bonus_credits');
    IF prior IS NOT NULL THEN
        outcome := prior ->> 'outcome';
        reason := prior ->> 'reason';
        bonus_credits := (prior ->> 'bonus_credits')::bigint;
        RETURN;
    END IF;

    PERFORM ensure_user(p_user);
    IF p_amount IS NULL OR p_amount <= 0 THEN
        outcome := 'refused';
        reason := 'amount_not_positive';
        SELECT u.bonus_credits INTO bonus_credits FROM users u WHERE u.id = p_user;
    ELSE
        outcome := 'applied';
        UPDATE users u SET bonus_credits = u.bonus_credits + p_amount, updated_at = now()
        WHERE u.id = p_user
        RETURNING u.bonus_credits INTO bonus_credits;
    END IF;
    PERFORM record_applied_command(p_command_id, 'admin_add_bonus_credits', p_user, jsonb_build_object(
        'outcome', outcome, 'reason', reason, 'amount', p_amount, 'bonus_credits', bonus_credits));
END;
$$;
COMMENT ON FUNCTION admin_add_bonus_credits(text, uuid, bigint) IS
    'Adds p_amount (> 0, else refused with reason amount_not_positive) to the user''s bonus credits. '
    'Idempotent on the command id.';

-- Redefined now that referrals and bonus credits exist (V3 had the plan's units only).
DROP FUNCTION get_user_usage_stats(uuid, date);
CREATE FUNCTION get_user_usage_stats(
    p_user uuid, p_month date,
    OUT month date, OUT plan text, OUT plan_units bigint, OUT referral_count integer, OUT multiplier numeric,
    OUT bonus_credits bigint, OUT effective_limit bigint, OUT used bigint, OUT remaining bigint, OUT state text,
    OUT last_reset_at timestamptz,
    OUT calls bigint, OUT units bigint, OUT successful_calls bigint, OUT failed_calls bigint, OUT tokens bigint,
    OUT request_bytes bigint, OUT response_bytes bigint,
    OUT response_time_ms_sum bigint, OUT response_time_ms_max bigint,
    OUT first_event_at timestamptz, OUT last_event_at timestamptz, OUT calls_by_provider jsonb)
    LANGUAGE sql STABLE
AS $$
    SELECT m.month, e.plan, e.plan_units, e.referral_count, referral_multiplier(e.referral_count), e.bonus_credits,
           e.effective_limit, coalesce(s.units, 0),
           greatest(e.effective_limit - coalesce(s.units, 0), 0),
           usage_state(coalesce(s.units, 0), e.effective_limit),
           (SELECT max(r.reset_at) FROM usage_resets r WHERE r.user_id = p_user AND r.month = m.month),
           coalesce(s.calls, 0), coalesce(s.units, 0), coalesce(s.successful_calls, 0),
           coalesce(s.failed_calls, 0), coalesce(s.tokens, 0),
           coalesce(s.request_bytes, 0), coalesce(s.response_bytes, 0),
           coalesce(s.response_time_ms_sum, 0), coalesce(s.response_time_ms_max, 0),
           s.first_event_at, s.last_event_at, coalesce(s.calls_by_provider, '{}'::jsonb)
    FROM (SELECT date_trunc('month', p_month)::date AS month) AS m
    CROSS JOIN LATERAL (
        -- An unknown user is a free user without referrals or credits.
        SELECT coalesce(u.plan, 'free') AS plan, l.monthly_units AS plan_units,
               coalesce(u.referral_count, 0) AS referral_count, coalesce(u.bonus_credits, 0) AS bonus_credits,
               effective_limit(l.monthly_units, coalesce(u.referral_count, 0), coalesce(u.bonus_credits, 0)) AS effective_limit
        FROM (SELECT p_user AS id) AS who
        LEFT JOIN users u ON u.id = who.id
        JOIN subscription_limits l ON l.plan = coalesce(u.plan, 'free')
    ) AS e
    LEFT JOIN monthly_usage_summary s ON s.user_id = p_user AND s.month = m.month
$$;
COMMENT ON FUNCTION get_user_usage_stats(uuid, date) IS
    'The month''s usage summary of a user with the explanation of their limit (plan, referrals, multiplier, '
    'bonus credits, effective limit, used, remaining, state, latest reset).';

CREATE VIEW admin_user_overview AS
SELECT u.id AS user_id,
       u.email,
       u.display_name,
       u.plan,
       u.is_admin,
       l.monthly_units AS plan_units,
       u.referral_count,
       referral_multiplier(u.referral_count) AS multiplier,
       u.bonus_credits,
       e.effective_limit,
       cm.month AS current_month,
       coalesce(s.calls, 0) AS current_month_calls,
       coalesce(s.units, 0) AS current_month_used,
       usage_state(coalesce(s.units, 0), e.effective_limit) AS current_month_state,
       u.created_at
FROM users u
JOIN subscription_limits l ON l.plan = u.plan
CROSS JOIN LATERAL (SELECT effective_limit(l.monthly_units, u.referral_count, u.bonus_credits) AS effective_limit) AS e
CROSS JOIN (SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date AS month) AS cm
LEFT JOIN monthly_usage_summary s ON s.user_id = u.id AND s.month = cm.month;
COMMENT ON VIEW admin_user_overview IS 'One row per user: entitlement and usage of the current UTC month.';

CREATE VIEW user_usage_overview AS
SELECT s.user_id,
       s.month,
       u.email,
       coalesce(u.plan, 'free') AS plan,
       s.calls,
       s.units AS used,
       e.effective_limit,
       greatest(e.effective_limit - s.units, 0) AS remaining,
       round(100.0 * s.units / nullif(e.effective_limit, 0), 2) AS percent_used,
       usage_state(s.units, e.effective_limit) AS state
FROM monthly_usage_summary s
LEFT JOIN users u ON u.id = s.user_id
JOIN subscription_limits l ON l.plan = coalesce(u.plan, 'free')
CROSS JOIN LATERAL (
    SELECT effective_limit(l.monthly_units, coalesce(u.referral_count, 0), coalesce(u.bonus_credits, 0)) AS effective_limit
) AS e;
COMMENT ON VIEW user_usage_overview IS
    'One row per user and month with usage: limit (today''s entitlement), percentage used and state '
    '(ok < 80 % <= warning < 100 % <= exceeded).';
