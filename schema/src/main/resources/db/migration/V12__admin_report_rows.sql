-- V12 admin report rows: what the admin panel's filters, orders and daily series read, kept in the transaction that
-- changes what they are derived from, so that a report read off them is never behind or ahead of the base tables.
--
-- The stream still computes every summary; these tables are indexes PostgreSQL cannot build by itself, because
-- each row combines two tables written by two processes (a user's state needs the month's units, written by the
-- usage sink, and the entitlement, written by the enforcer's writer) or counts rows of a partitioned table.
-- They are the only triggers of the schema: each one writes only the V12 table it maintains, from the transition
-- table of the statement that fired it (one statement per statement, not per row), whichever writer ran it
-- (the sink, a replay's repair, an admin function, a hand edit). Their rules:
--   monthly_usage_state = one row per monthly_usage_summary row, with the limit of user_usage_overview;
--   api_usage_daily     = sum(events) per (day, provider) = count(*) of api_usage per UTC day and provider.

-- One row per summary: its units and calls, today's effective limit of its user (a user PostgreSQL has no row for
-- counts as free, as in user_usage_overview), and state and percentage derived from them in the row itself, so two
-- writers each setting their own column (used, effective_limit) can never leave a state computed from the other's
-- old value.
CREATE TABLE monthly_usage_state (
    month           date NOT NULL,
    user_id         uuid NOT NULL,
    calls           bigint NOT NULL CHECK (calls >= 0),
    used            bigint NOT NULL CHECK (used >= 0),
    effective_limit bigint NOT NULL,
    listed          boolean NOT NULL,
    state           text NOT NULL GENERATED ALWAYS AS (usage_state(used, effective_limit)) STORED,
    percent_used    numeric GENERATED ALWAYS AS (round(used::numeric * 100 / nullif(effective_limit, 0)::numeric, 2)) STORED,
    PRIMARY KEY (month, user_id)
);
COMMENT ON TABLE monthly_usage_state IS
    'Derived, never written by hand: one row per monthly_usage_summary row with the user''s state, kept by the V12 '
    'triggers in the transaction that changes the summary, the users row or the plan. The admin users pages and '
    'the month''s analytics read it.';
COMMENT ON COLUMN monthly_usage_state.listed IS
    'A users row exists: the users pages list users; the month''s analytics count every summary.';
COMMENT ON COLUMN monthly_usage_state.effective_limit IS
    'effective_limit(plan units, referrals, bonus credits) of the user today (free, 0, 0 without a users row).';

CREATE INDEX monthly_usage_state_user_idx ON monthly_usage_state (user_id);
-- The users pages (listed users): by units or by percentage, with or without a state, from the page, not the users.
CREATE INDEX monthly_usage_state_used_idx ON monthly_usage_state (month, used DESC, user_id) WHERE listed;
CREATE INDEX monthly_usage_state_state_used_idx ON monthly_usage_state (month, state, used DESC, user_id) WHERE listed;
CREATE INDEX monthly_usage_state_percent_idx
    ON monthly_usage_state (month, percent_used DESC NULLS LAST, user_id) WHERE listed;
CREATE INDEX monthly_usage_state_state_percent_idx
    ON monthly_usage_state (month, state, percent_used DESC NULLS LAST, user_id) WHERE listed;

-- Events per UTC day and provider. Each database session adds to its own slot (backend pid modulo 8), so sinks
-- writing at the same time do not queue on one row per day and provider until they commit; readers sum the slots.
CREATE TABLE api_usage_daily (
    day      date NOT NULL,
    provider text NOT NULL,
    slot     smallint NOT NULL CHECK (slot BETWEEN 0 AND 7),
    events   bigint NOT NULL,
    PRIMARY KEY (day, provider, slot)
);
COMMENT ON TABLE api_usage_daily IS
    'Derived, never written by hand: api_usage rows per UTC day of occurred_at and provider (sum over slot), kept '
    'by the V12 triggers of api_usage in the transaction that inserts, rewrites or deletes the rows (rows a '
    'statement skips, such as ON CONFLICT DO NOTHING, are not counted). Rows moved between partitions by '
    'ensure_api_usage_partition are not counted again.';

-- The state rows of the summaries a statement changed: used and calls from the summary, the limit from the users
-- row, which is locked (FOR SHARE, in id order) until the transaction ends, so that the enforcer's writer cannot
-- change the entitlement between this read and the commit without waiting for it (and then rewriting the limit).
CREATE FUNCTION monthly_usage_state_of_summaries() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM monthly_usage_state d USING old_rows o WHERE d.month = o.month AND d.user_id = o.user_id;
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- A key changed by hand: the old key's row goes.
        DELETE FROM monthly_usage_state d USING old_rows o
        WHERE d.month = o.month AND d.user_id = o.user_id
          AND NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.month = o.month AND n.user_id = o.user_id);
    END IF;
    PERFORM 1 FROM users u WHERE u.id IN (SELECT n.user_id FROM new_rows n) ORDER BY u.id FOR SHARE;
    -- Each user's limit by its primary key (OFFSET 0 keeps it a probe per row: joined, the planner hashes every
    -- user for a batch, as it cannot estimate the transition table).
    INSERT INTO monthly_usage_state AS d (month, user_id, calls, used, effective_limit, listed)
    SELECT n.month, n.user_id, n.calls, n.units, coalesce(e.effective_limit, free.effective_limit), e.listed IS NOT NULL
    FROM new_rows n
    LEFT JOIN LATERAL (SELECT effective_limit(l.monthly_units, u.referral_count, u.bonus_credits) AS effective_limit,
                              true AS listed
                       FROM users u JOIN subscription_limits l ON l.plan = u.plan
                       WHERE u.id = n.user_id OFFSET 0) AS e ON true
    CROSS JOIN (SELECT effective_limit(l.monthly_units, 0, 0) AS effective_limit
                FROM subscription_limits l WHERE l.plan = 'free') AS free
    ORDER BY n.month, n.user_id
    ON CONFLICT (month, user_id) DO UPDATE
        SET calls = excluded.calls, used = excluded.used, effective_limit = excluded.effective_limit,
            listed = excluded.listed;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION monthly_usage_state_of_summaries() IS
    'V12 trigger: the monthly_usage_state rows of the summaries a statement inserted, updated or deleted.';

CREATE TRIGGER monthly_usage_state_on_insert AFTER INSERT ON monthly_usage_summary
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION monthly_usage_state_of_summaries();
CREATE TRIGGER monthly_usage_state_on_update AFTER UPDATE ON monthly_usage_summary
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION monthly_usage_state_of_summaries();
CREATE TRIGGER monthly_usage_state_on_delete AFTER DELETE ON monthly_usage_summary
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION monthly_usage_state_of_summaries();

CREATE FUNCTION monthly_usage_state_of_truncated_summaries() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM monthly_usage_state;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION monthly_usage_state_of_truncated_summaries() IS 'V12 trigger: no summary, no state row.';
CREATE TRIGGER monthly_usage_state_on_truncate AFTER TRUNCATE ON monthly_usage_summary
    FOR EACH STATEMENT EXECUTE FUNCTION monthly_usage_state_of_truncated_summaries();

-- The limit (and listed) of every state row of the users a statement inserted, updated or deleted, and of every
-- user after a TRUNCATE of users or a change of a plan's units: recomputed from the committed users rows.
CREATE FUNCTION monthly_usage_state_refresh_limits(p_users uuid[]) RETURNS void
    LANGUAGE sql
AS $$
    UPDATE monthly_usage_state d
    SET effective_limit = x.effective_limit, listed = x.listed
    FROM (SELECT d2.month, d2.user_id,
                 effective_limit(l.monthly_units, coalesce(u.referral_count, 0), coalesce(u.bonus_credits, 0))
                     AS effective_limit,
                 u.id IS NOT NULL AS listed
          FROM monthly_usage_state d2
          LEFT JOIN users u ON u.id = d2.user_id
          JOIN subscription_limits l ON l.plan = coalesce(u.plan, 'free')
          WHERE p_users IS NULL OR d2.user_id = ANY (p_users)) AS x
    WHERE d.month = x.month AND d.user_id = x.user_id
      AND (d.effective_limit, d.listed) IS DISTINCT FROM (x.effective_limit, x.listed)
$$;
COMMENT ON FUNCTION monthly_usage_state_refresh_limits(uuid[]) IS
    'Recomputes the limit of the monthly_usage_state rows of p_users (every row when NULL) (V12 triggers only).';

CREATE FUNCTION monthly_usage_state_of_users() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM monthly_usage_state_refresh_limits(NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM monthly_usage_state_refresh_limits(ARRAY(SELECT o.id FROM old_rows o));
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM monthly_usage_state_refresh_limits(ARRAY(SELECT n.id FROM new_rows n));
    ELSE
        -- Only the users whose entitlement or id changed (most updates of users touch neither).
        PERFORM monthly_usage_state_refresh_limits(ARRAY(
            SELECT n.id FROM new_rows n
            WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.id = n.id
                              AND (o.plan, o.referral_count, o.bonus_credits)
                                  IS NOT DISTINCT FROM (n.plan, n.referral_count, n.bonus_credits))
            UNION
            SELECT o.id FROM old_rows o WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.id = o.id)));
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION monthly_usage_state_of_users() IS
    'V12 trigger: the limit of the monthly_usage_state rows of the users a statement changed.';

CREATE TRIGGER monthly_usage_state_on_user_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION monthly_usage_state_of_users();
CREATE TRIGGER monthly_usage_state_on_user_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION monthly_usage_state_of_users();
CREATE TRIGGER monthly_usage_state_on_user_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION monthly_usage_state_of_users();
CREATE TRIGGER monthly_usage_state_on_user_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION monthly_usage_state_of_users();

CREATE FUNCTION monthly_usage_state_of_plans() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.plan = n.plan WHERE o.monthly_units <> n.monthly_units) THEN
        PERFORM monthly_usage_state_refresh_limits(NULL);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION monthly_usage_state_of_plans() IS
    'V12 trigger: every limit again when a plan''s units change (a renamed plan reaches users by ON UPDATE CASCADE).';
CREATE TRIGGER monthly_usage_state_on_plan_update AFTER UPDATE ON subscription_limits
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION monthly_usage_state_of_plans();

-- api_usage_daily: + the rows a statement on api_usage inserted, - the rows it deleted (an update is both), in the
-- order of the key so that two writers take the counter rows in the same order.
CREATE FUNCTION api_usage_daily_add(p_day date[], p_provider text[], p_events bigint[]) RETURNS void
    LANGUAGE sql
AS $$
    INSERT INTO api_usage_daily AS c (day, provider, slot, events)
    SELECT x.day, x.provider, pg_backend_pid() % 8, x.events
    FROM unnest(p_day, p_provider, p_events) AS x (day, provider, events)
    WHERE x.events <> 0
    ORDER BY x.day, x.provider
    ON CONFLICT (day, provider, slot) DO UPDATE SET events = c.events + excluded.events
$$;
COMMENT ON FUNCTION api_usage_daily_add(date[], text[], bigint[]) IS
    'Adds events per (day, provider) to this session''s slot of api_usage_daily (V12 triggers only).';

CREATE FUNCTION api_usage_daily_of_events() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    days      date[];
    providers text[];
    counts    bigint[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM api_usage_daily;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(day), array_agg(provider), array_agg(n) INTO days, providers, counts
        FROM (SELECT (r.occurred_at AT TIME ZONE 'UTC')::date AS day, r.provider, count(*) AS n
              FROM new_rows r GROUP BY 1, 2) AS g;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(day), array_agg(provider), array_agg(n) INTO days, providers, counts
        FROM (SELECT (r.occurred_at AT TIME ZONE 'UTC')::date AS day, r.provider, -count(*) AS n
              FROM old_rows r GROUP BY 1, 2) AS g;
    ELSE
        SELECT array_agg(day), array_agg(provider), array_agg(n) INTO days, providers, counts
        FROM (SELECT day, provider, sum(n)::bigint AS n
              FROM (SELECT (r.occurred_at AT TIME ZONE 'UTC')::date AS day, r.provider, 1 AS n FROM new_rows r
                    UNION ALL
                    SELECT (r.occurred_at AT TIME ZONE 'UTC')::date, r.provider, -1 FROM old_rows r) AS d
              GROUP BY 1, 2) AS g;
    END IF;
    IF days IS NOT NULL THEN
        PERFORM api_usage_daily_add(days, providers, counts);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION api_usage_daily_of_events() IS
    'V12 trigger: api_usage_daily of the api_usage rows a statement inserted, updated or deleted.';

-- On the partitioned table: statements on api_usage fire them, whichever partition the rows are in; a statement on
-- a partition itself (ensure_api_usage_partition moving rows out of the default partition) does not.
CREATE TRIGGER api_usage_daily_on_insert AFTER INSERT ON api_usage
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION api_usage_daily_of_events();
CREATE TRIGGER api_usage_daily_on_update AFTER UPDATE ON api_usage
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION api_usage_daily_of_events();
CREATE TRIGGER api_usage_daily_on_delete AFTER DELETE ON api_usage
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION api_usage_daily_of_events();
CREATE TRIGGER api_usage_daily_on_truncate AFTER TRUNCATE ON api_usage
    FOR EACH STATEMENT EXECUTE FUNCTION api_usage_daily_of_events();

-- The rows of what exists already. The triggers above exist from here on in this transaction, and CREATE TRIGGER
-- holds a lock that keeps every writer of these tables waiting until the migration commits: nothing is missed.
INSERT INTO monthly_usage_state (month, user_id, calls, used, effective_limit, listed)
SELECT s.month, s.user_id, s.calls, s.units,
       effective_limit(l.monthly_units, coalesce(u.referral_count, 0), coalesce(u.bonus_credits, 0)),
       u.id IS NOT NULL
FROM monthly_usage_summary s
LEFT JOIN users u ON u.id = s.user_id
JOIN subscription_limits l ON l.plan = coalesce(u.plan, 'free');

INSERT INTO api_usage_daily (day, provider, slot, events)
SELECT (occurred_at AT TIME ZONE 'UTC')::date, provider, 0, count(*)
FROM api_usage
GROUP BY 1, 2;
