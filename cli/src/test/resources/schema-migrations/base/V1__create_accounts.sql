-- Test migration: a table with keys, defaults, a check, an index and a SQL function.
CREATE TABLE accounts (
    id         uuid PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    plan       text NOT NULL DEFAULT 'free',
    credits    integer NOT NULL DEFAULT 0 CHECK (credits >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_accounts_created_at ON accounts (created_at);
CREATE FUNCTION account_credits(p_id uuid) RETURNS integer
    LANGUAGE sql STABLE AS $$ SELECT credits FROM accounts WHERE id = p_id $$;
