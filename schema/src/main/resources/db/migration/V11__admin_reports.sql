-- V11 admin reports: the bounds of bonus credits in the database itself, as the Java side has them
-- (io.usagemeter.schema.events.Bounds), so that no caller of admin_add_bonus_credits can make the total wrap
-- or grant a huge amount.

-- As in V4, plus two rules of Bounds: one grant is at most MAX_CREDITS_PER_COMMAND (1,000,000,000; the
-- admin route answers 400 above it and the streams dead-letter such a command), else refused with reason
-- amount_too_large; and a user's total stops at MAX_BONUS_CREDITS (10^15), as Entitlement.withBonusCredits
-- saturates it, so the stream's limit and this row agree.
CREATE OR REPLACE FUNCTION admin_add_bonus_credits(
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
    ELSIF p_amount > 1000000000 THEN
        outcome := 'refused';
        reason := 'amount_too_large';
        SELECT u.bonus_credits INTO bonus_credits FROM users u WHERE u.id = p_user;
    ELSE
        outcome := 'applied';
        -- In numeric, so that even a total above the cap (written by hand) cannot overflow bigint here.
        UPDATE users u
        SET bonus_credits = least(u.bonus_credits::numeric + p_amount, 1000000000000000)::bigint, updated_at = now()
        WHERE u.id = p_user
        RETURNING u.bonus_credits INTO bonus_credits;
    END IF;
    PERFORM record_applied_command(p_command_id, 'admin_add_bonus_credits', p_user, jsonb_build_object(
        'outcome', outcome, 'reason', reason, 'amount', p_amount, 'bonus_credits', bonus_credits));
END;
$$;
COMMENT ON FUNCTION admin_add_bonus_credits(text, uuid, bigint) IS
    'Adds p_amount (1 to 1,000,000,000, else refused with reason amount_not_positive or amount_too_large) to the '
    'user''s bonus credits, which stop at 10^15. Idempotent on the command id.';
