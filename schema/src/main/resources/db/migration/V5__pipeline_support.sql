-- V5 pipeline support: consumed offsets stored by the sinks, and the plan command.

CREATE TABLE sink_offsets (
    sink        text NOT NULL CHECK (char_length(sink) BETWEEN 1 AND 200),
    topic       text NOT NULL CHECK (char_length(topic) BETWEEN 1 AND 249),
    partition   integer NOT NULL CHECK (partition >= 0),
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sink, topic, partition)
);
COMMENT ON TABLE sink_offsets IS
    'Next Kafka offset to consume per sink (consumer group), topic and partition. A sink writes its rows and '
    'its offsets in one transaction and seeks to these offsets on start, so a crash never loses or repeats rows.';

CREATE FUNCTION admin_set_user_plan(
    p_command_id text, p_user uuid, p_plan text,
    OUT outcome text, OUT reason text, OUT plan text, OUT previous_plan text)
    LANGUAGE plpgsql
AS $$
#variable_conflict use_column
DECLARE
    prior jsonb;
BEGIN
    IF p_user IS NULL THEN
        RAISE EXCEPTION 'admin_set_user_plan: user is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    prior := applied_command_result(p_command_id, 'admin_set_user_plan');
    IF prior IS NOT NULL THEN
        outcome := prior ->> 'outcome';
        reason := prior ->> 'reason';
        plan := prior ->> 'plan';
        previous_plan := prior ->> 'previous_plan';
        RETURN;
    END IF;

    PERFORM ensure_user(p_user);
    SELECT u.plan INTO previous_plan FROM users u WHERE u.id = p_user FOR UPDATE;
    IF NOT EXISTS (SELECT 1 FROM subscription_limits l WHERE l.plan = p_plan) THEN
        outcome := 'refused';
        reason := 'unknown_plan';
        plan := previous_plan;
    ELSE
        outcome := 'applied';
        UPDATE users u SET plan = p_plan, updated_at = now() WHERE u.id = p_user;
        plan := p_plan;
    END IF;
    PERFORM record_applied_command(p_command_id, 'admin_set_user_plan', p_user, jsonb_build_object(
        'outcome', outcome, 'reason', reason, 'requested_plan', p_plan, 'plan', plan, 'previous_plan', previous_plan));
END;
$$;
COMMENT ON FUNCTION admin_set_user_plan(text, uuid, text) IS
    'Moves the user to plan p_plan; refuses a plan missing from subscription_limits (reason unknown_plan). '
    'Idempotent on the command id.';
