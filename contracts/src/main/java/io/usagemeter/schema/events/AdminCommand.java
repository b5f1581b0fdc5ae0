package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * An admin's instruction, carried through Kafka so that it holds after restarts and replays.
 * On the wire a {@code type} property names the command; the set of types is closed here, never
 * resolved from class names.
 *
 * <p>A command outside the {@link Bounds} cannot be built (nor read from Kafka): the admin routes
 * and verbs refuse it with the same checks ({@link #checkCommandId}, {@link #checkAmount},
 * {@link #checkPlan}), and a record produced straight to the topic is a dead letter for every
 * reader alike, the enforcer's stream and its PostgreSQL writer included.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = AdminCommand.ResetUsage.class, name = "reset_usage"),
        @JsonSubTypes.Type(value = AdminCommand.AddBonusCredits.class, name = "add_bonus_credits"),
        @JsonSubTypes.Type(value = AdminCommand.SetPlan.class, name = "set_plan")
})
public sealed interface AdminCommand {

    /** {@code subscription_limits.plan}'s CHECK. */
    Pattern PLAN_PATTERN = Pattern.compile("[a-z][a-z0-9_-]{0," + (Bounds.PLAN_MAX_LENGTH - 1) + "}");

    /** Unique per command: consumers apply a redelivered command once. */
    String commandId();

    UUID userId();

    Instant issuedAt();

    /** Who issued it (the admin token's subject). */
    String issuedBy();

    /** From {@code resetAt} on, {@code month}'s usage counts only events that occurred after it. */
    record ResetUsage(String commandId, UUID userId, YearMonth month, Instant resetAt,
                      Instant issuedAt, String issuedBy) implements AdminCommand {
        public ResetUsage {
            requireCommon(commandId, userId, issuedAt, issuedBy);
            Objects.requireNonNull(month, "month");
            Objects.requireNonNull(resetAt, "reset_at");
        }
    }

    /** Adds {@code amount} bonus credits, which raise the allowance every month. */
    record AddBonusCredits(String commandId, UUID userId, long amount,
                           Instant issuedAt, String issuedBy) implements AdminCommand {
        public AddBonusCredits {
            requireCommon(commandId, userId, issuedAt, issuedBy);
            List<Violation> violations = new ArrayList<>(0);
            checkAmount(amount, violations);
            requireNone(violations);
        }
    }

    /** Moves the user to {@code plan} (a row of {@code subscription_limits}). */
    record SetPlan(String commandId, UUID userId, String plan,
                   Instant issuedAt, String issuedBy) implements AdminCommand {
        public SetPlan {
            requireCommon(commandId, userId, issuedAt, issuedBy);
            Objects.requireNonNull(plan, "plan");
            List<Violation> violations = new ArrayList<>(0);
            checkPlan(plan, violations);
            requireNone(violations);
        }
    }

    // Static methods of an interface are public: the admin routes and verbs check with these.

    /** {@code command_id}: 1 to {@value Bounds#COMMAND_ID_MAX_LENGTH} characters ({@code applied_commands}), plain text. */
    static void checkCommandId(String commandId, List<Violation> violations) {
        Bounds.checkText("command_id", commandId, 1, Bounds.COMMAND_ID_MAX_LENGTH, violations);
    }

    /** {@code amount} of bonus credits: 1 to {@value Bounds#MAX_CREDITS_PER_COMMAND}. */
    static void checkAmount(long amount, List<Violation> violations) {
        Bounds.checkRange("amount", amount, 1, Bounds.MAX_CREDITS_PER_COMMAND, violations);
    }

    /** {@code plan}: a name {@code subscription_limits} can hold. */
    static void checkPlan(String plan, List<Violation> violations) {
        if (!PLAN_PATTERN.matcher(plan).matches()) {
            violations.add(new Violation("plan", "must be 1 to " + Bounds.PLAN_MAX_LENGTH
                    + " characters of a-z, 0-9, _ and -, starting with a letter, was '"
                    + (plan.length() <= 64 ? plan : plan.substring(0, 64) + "...") + "'"));
        }
    }

    private static void requireCommon(String commandId, UUID userId, Instant issuedAt, String issuedBy) {
        Objects.requireNonNull(commandId, "command_id");
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(issuedAt, "issued_at");
        Objects.requireNonNull(issuedBy, "issued_by");
        List<Violation> violations = new ArrayList<>(0);
        checkCommandId(commandId, violations);
        requireNone(violations);
    }

    private static void requireNone(List<Violation> violations) {
        if (!violations.isEmpty()) {
            throw new IllegalArgumentException(violations.size() == 1 ? violations.get(0).toString() : violations.toString());
        }
    }
}
