-- The older system's database (Node.js on Supabase) as its hand-rolled migration manager left it:
-- 001_initial_setup .. 004_referral_system, then seed data of three users.
-- Timestamps are "timestamp without time zone" holding UTC, as Supabase's defaults wrote them.

-- 001_initial_setup.sql
CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email       text UNIQUE NOT NULL,
    name        text,
    plan        text DEFAULT 'free',
    is_admin    boolean DEFAULT false,
    created_at  timestamp DEFAULT now(),
    updated_at  timestamp DEFAULT now()
);

CREATE TABLE user_sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid REFERENCES users(id) ON DELETE CASCADE,
    token_hash  text NOT NULL,
    created_at  timestamp DEFAULT now(),
    expires_at  timestamp NOT NULL,
    is_active   boolean DEFAULT true
);

CREATE TABLE analytics_events (
    id          serial PRIMARY KEY,
    user_id     uuid REFERENCES users(id),
    event_type  text NOT NULL,
    event_data  jsonb,
    created_at  timestamp DEFAULT now()
);

-- 002_token_encryption.sql: AES-256-CBC in Node's crypto, hex-encoded.
CREATE TABLE user_tokens (
    id               serial PRIMARY KEY,
    user_id          uuid REFERENCES users(id) ON DELETE CASCADE,
    provider         text NOT NULL,
    encrypted_token  text NOT NULL,
    iv               text NOT NULL,
    created_at       timestamp DEFAULT now(),
    updated_at       timestamp DEFAULT now(),
    UNIQUE (user_id, provider)
);

-- 003_api_usage_tracking.sql
CREATE TABLE api_usage (
    id                serial PRIMARY KEY,
    user_id           uuid REFERENCES users(id) ON DELETE CASCADE,
    provider          text NOT NULL,
    endpoint          text NOT NULL,
    method            text DEFAULT 'GET',
    status_code       integer,
    response_time_ms  integer,
    request_size      integer,
    response_size     integer,
    tokens_used       integer DEFAULT 0,
    created_at        timestamp DEFAULT now()
);
CREATE INDEX idx_api_usage_user_created ON api_usage(user_id, created_at);

CREATE TABLE monthly_usage_summary (
    id                    serial PRIMARY KEY,
    user_id               uuid REFERENCES users(id) ON DELETE CASCADE,
    month                 text NOT NULL,
    total_calls           integer DEFAULT 0,
    successful_calls      integer DEFAULT 0,
    failed_calls          integer DEFAULT 0,
    total_tokens          integer DEFAULT 0,
    avg_response_time_ms  numeric DEFAULT 0,
    updated_at            timestamp DEFAULT now(),
    UNIQUE (user_id, month)
);

CREATE TABLE subscription_limits (
    id                 serial PRIMARY KEY,
    plan_name          text UNIQUE NOT NULL,
    monthly_api_calls  integer NOT NULL,
    description        text,
    created_at         timestamp DEFAULT now()
);
INSERT INTO subscription_limits (plan_name, monthly_api_calls, description) VALUES
    ('free', 1000, 'Free tier'),
    ('pro', 20000, 'Pro tier');

CREATE OR REPLACE FUNCTION update_monthly_usage_summary() RETURNS trigger AS $$
BEGIN
    INSERT INTO monthly_usage_summary (user_id, month, total_calls, successful_calls, failed_calls,
                                       total_tokens, avg_response_time_ms)
    VALUES (NEW.user_id, to_char(NEW.created_at, 'YYYY-MM'), 1,
            CASE WHEN NEW.status_code < 400 THEN 1 ELSE 0 END,
            CASE WHEN NEW.status_code < 400 THEN 0 ELSE 1 END,
            COALESCE(NEW.tokens_used, 0), COALESCE(NEW.response_time_ms, 0))
    ON CONFLICT (user_id, month) DO UPDATE SET
        total_calls = monthly_usage_summary.total_calls + 1,
        successful_calls = monthly_usage_summary.successful_calls + CASE WHEN NEW.status_code < 400 THEN 1 ELSE 0 END,
        failed_calls = monthly_usage_summary.failed_calls + CASE WHEN NEW.status_code < 400 THEN 0 ELSE 1 END,
        total_tokens = monthly_usage_summary.total_tokens + COALESCE(NEW.tokens_used, 0),
        avg_response_time_ms = (monthly_usage_summary.avg_response_time_ms * monthly_usage_summary.total_calls
                                + COALESCE(NEW.response_time_ms, 0)) / (monthly_usage_summary.total_calls + 1),
        updated_at = now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER trigger_update_monthly_usage
    AFTER INSERT ON api_usage
    FOR EACH ROW EXECUTE FUNCTION update_monthly_usage_summary();

-- 004_referral_system.sql
ALTER TABLE users
    ADD COLUMN referral_code  text UNIQUE,
    ADD COLUMN referred_by    uuid REFERENCES users(id),
    ADD COLUMN referral_count integer DEFAULT 0,
    ADD COLUMN bonus_credits  integer DEFAULT 0;

CREATE TABLE user_referrals (
    id            serial PRIMARY KEY,
    referrer_id   uuid REFERENCES users(id),
    referred_id   uuid REFERENCES users(id),
    referral_code text NOT NULL,
    status        text DEFAULT 'pending',
    created_at    timestamp DEFAULT now(),
    completed_at  timestamp
);

CREATE OR REPLACE FUNCTION complete_referral(p_referral_code text, p_new_user_id uuid) RETURNS boolean AS $$
DECLARE
    v_referrer uuid;
BEGIN
    SELECT id INTO v_referrer FROM users WHERE referral_code = p_referral_code;
    IF v_referrer IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO user_referrals (referrer_id, referred_id, referral_code, status, completed_at)
    VALUES (v_referrer, p_new_user_id, p_referral_code, 'completed', now());
    UPDATE users SET referred_by = v_referrer WHERE id = p_new_user_id;
    UPDATE users SET referral_count = referral_count + 1, bonus_credits = bonus_credits + 10 WHERE id = v_referrer;
    RETURN true;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION admin_reset_user_usage(p_user_id uuid) RETURNS void AS $$
BEGIN
    UPDATE monthly_usage_summary
    SET total_calls = 0, successful_calls = 0, failed_calls = 0, total_tokens = 0, avg_response_time_ms = 0,
        updated_at = now()
    WHERE user_id = p_user_id AND month = to_char(now(), 'YYYY-MM');
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION admin_add_bonus_credits(p_user_id uuid, p_credits integer) RETURNS integer AS $$
    UPDATE users SET bonus_credits = bonus_credits + p_credits WHERE id = p_user_id RETURNING bonus_credits;
$$ LANGUAGE sql;

CREATE OR REPLACE FUNCTION get_user_usage_stats(p_user_id uuid) RETURNS json AS $$
    SELECT json_build_object(
        'plan', u.plan,
        'calls', COALESCE(s.total_calls, 0),
        'limit', FLOOR(l.monthly_api_calls * (1 + LEAST(u.referral_count * 0.02, 2.0))) + u.bonus_credits)
    FROM users u
    JOIN subscription_limits l ON l.plan_name = u.plan
    LEFT JOIN monthly_usage_summary s ON s.user_id = u.id AND s.month = to_char(now(), 'YYYY-MM')
    WHERE u.id = p_user_id;
$$ LANGUAGE sql;

CREATE VIEW admin_user_overview AS
SELECT u.id, u.email, u.plan, u.referral_count, u.bonus_credits, u.created_at
FROM users u;

-- Seed: Alice (pro) referred Bob; Carol uses the platform on her own and stores a GitHub token.
INSERT INTO users (id, email, name, plan, is_admin, created_at, updated_at, referral_code) VALUES
    ('a11ce000-0000-4000-8000-000000000001', 'alice@example.com', 'Alice', 'pro', true,
     '2023-11-02 08:00:00', '2025-10-01 09:00:00', 'ALICE-01'),
    ('b0b00000-0000-4000-8000-000000000002', 'bob@example.com', 'Bob', 'free', false,
     '2025-09-15 12:00:00', '2025-09-15 12:00:00', 'BOB-0002'),
    ('ca201000-0000-4000-8000-000000000003', 'carol@example.com', NULL, NULL, false,
     '2025-10-20 16:30:00', '2025-10-20 16:30:00', NULL);

SELECT complete_referral('ALICE-01', 'b0b00000-0000-4000-8000-000000000002');
UPDATE user_referrals SET created_at = '2025-09-15 12:00:00', completed_at = '2025-09-15 12:05:00';
-- A shared code nobody has used yet.
INSERT INTO user_referrals (referrer_id, referred_id, referral_code, created_at)
VALUES ('a11ce000-0000-4000-8000-000000000001', NULL, 'ALICE-01', '2025-10-03 10:00:00');
SELECT admin_add_bonus_credits('ca201000-0000-4000-8000-000000000003', 25);

INSERT INTO user_sessions (id, user_id, token_hash, created_at, expires_at, is_active) VALUES
    ('5e550000-0000-4000-8000-000000000001', 'a11ce000-0000-4000-8000-000000000001', 'h1',
     '2025-10-01 09:00:00', '2025-10-08 09:00:00', true),
    ('5e550000-0000-4000-8000-000000000002', 'b0b00000-0000-4000-8000-000000000002', 'h2',
     '2025-10-02 09:00:00', '2025-10-09 09:00:00', false);

INSERT INTO analytics_events (user_id, event_type, event_data, created_at) VALUES
    ('a11ce000-0000-4000-8000-000000000001', 'dashboard_viewed', '{"tab": "usage"}', '2025-10-01 09:01:00'),
    (NULL, 'landing_viewed', NULL, '2025-10-02 10:00:00');

INSERT INTO user_tokens (user_id, provider, encrypted_token, iv, created_at, updated_at) VALUES
    ('ca201000-0000-4000-8000-000000000003', 'github',
     '9f2c4e6a81b3d5f7092a4c6e8b1d3f50a2c4e6f8193b5d7f', '00112233445566778899aabbccddeeff',
     '2025-10-20 16:31:00', '2025-10-20 16:31:00');

-- Calls, summarised by the trigger as they arrive.
INSERT INTO api_usage (user_id, provider, endpoint, method, status_code, response_time_ms, request_size,
                       response_size, tokens_used, created_at) VALUES
    ('a11ce000-0000-4000-8000-000000000001', 'openai', '/v1/chat/completions', 'POST', 200, 640, 900, 4200, 350,
     '2023-12-31 23:59:00'),
    ('a11ce000-0000-4000-8000-000000000001', 'openai', '/v1/chat/completions', 'POST', 200, 700, 1000, 5000, 400,
     '2025-10-01 10:00:00'),
    ('a11ce000-0000-4000-8000-000000000001', 'github', '/repos/acme/app/issues', 'GET', 200, 120, 0, 3000, 0,
     '2025-10-01 10:05:00'),
    ('a11ce000-0000-4000-8000-000000000001', 'anthropic', '/v1/messages', 'POST', 529, 2100, 800, 120, 0,
     '2025-10-31 23:59:59'),
    ('b0b00000-0000-4000-8000-000000000002', 'gemini', '/v1beta/models/gemini-pro:generateContent', 'POST', 200, 450,
     700, 2600, 210, '2025-10-05 08:00:00'),
    ('b0b00000-0000-4000-8000-000000000002', 'Stripe', '/v1/charges', 'GET', 404, 90, 0, 150, 0,
     '2025-11-01 00:00:00'),
    ('ca201000-0000-4000-8000-000000000003', 'github', '/user', 'GET', 200, 80, 0, 900, 0, '2025-11-03 12:00:00'),
    ('ca201000-0000-4000-8000-000000000003', 'github', '/user/repos', 'GET', 200, 110, 0, 12000, 0,
     '2025-11-03 12:01:00');

-- Support reset Carol's November usage with the statement admin_reset_user_usage runs for the current month.
UPDATE monthly_usage_summary
SET total_calls = 0, successful_calls = 0, failed_calls = 0, total_tokens = 0, avg_response_time_ms = 0
WHERE user_id = 'ca201000-0000-4000-8000-000000000003' AND month = '2025-11';
