-- V10 admin panel indexes: what the admin panel's reports (GET /v1/admin/users and
-- /v1/admin/analytics/*) read by, so that they answer from an index rather than a scan of every row.
-- Indexes only: no data or structure changes.

-- A month's summaries, most used first: users per state and top users of the month.
CREATE INDEX monthly_usage_summary_month_units_idx ON monthly_usage_summary (month, units DESC, user_id);

-- Completed referrals per day.
CREATE INDEX user_referrals_completed_at_idx ON user_referrals (completed_at) WHERE status = 'completed';

-- New users per day: the users first recorded in the window.
CREATE INDEX users_created_at_idx ON users (created_at);

-- Events per day by provider: an index-only scan of the window (created on every monthly partition).
CREATE INDEX api_usage_occurred_at_provider_idx ON api_usage (occurred_at, provider);

