-- Test migration: a partitioned table, a trigger, a view and a seed row.
CREATE TABLE calls (
    account_id  uuid NOT NULL REFERENCES accounts (id),
    occurred_at timestamptz NOT NULL,
    units       integer NOT NULL DEFAULT 1
) PARTITION BY RANGE (occurred_at);
CREATE TABLE calls_p2025_01 PARTITION OF calls FOR VALUES FROM ('2025-01-01') TO ('2025-02-01');
CREATE INDEX idx_calls_account ON calls (account_id, occurred_at);
CREATE FUNCTION touch_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.created_at := coalesce(NEW.created_at, now());
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_touch BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION touch_account();
CREATE VIEW account_usage AS
    SELECT a.id, coalesce(sum(c.units), 0) AS units FROM accounts a LEFT JOIN calls c ON c.account_id = a.id GROUP BY a.id;
INSERT INTO accounts (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'seed@example.com');
