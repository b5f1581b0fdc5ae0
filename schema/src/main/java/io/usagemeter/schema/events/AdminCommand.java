package io.usagemeter.schema.events;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.time.Instant;
import java.time.YearMonth;
import java.util.Objects;
import java.util.UUID;

/**
 * An admin's instruction, carried through Kafka so that it holds after restarts and replays.
 * On the wire a {@code type} property names the command; the set of types is closed here, never
 * resolved from class names.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = AdminCommand.ResetUsage.class, name = "reset_usage"),
        @JsonSubTypes.Type(value = AdminCommand.AddBonusCredits.class, name = "add_bonus_credits"),
        @JsonSubTypes.Type(value = AdminCommand.SetPlan.class, name = "set_plan")
})
public sealed interface AdminCommand {

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
            if (amount <= 0) {
                throw new IllegalArgumentException("amount must be positive, was " + amount);
            }
        }
    }

    /** Moves the user to {@code plan} (a row of {@code subscription_limits}). */
    record SetPlan(String commandId, UUID userId, String plan,
                   Instant issuedAt, String issuedBy) implements AdminCommand {
        public SetPlan {
            requireCommon(commandId, userId, issuedAt, issuedBy);
            Objects.requireNonNull(plan, "plan");
            if (plan.isBlank()) {
                throw new IllegalArgumentException("plan must not be blank");
            }
        }
    }

    private static void requireCommon(String commandId, UUID userId, Instant issuedAt, String issuedBy) {
        Objects.requireNonNull(commandId, "command_id");
        Objects.requireNonNull(userId, "user_id");
        Objects.requireNonNull(issuedAt, "issued_at");
        Objects.requireNonNull(issuedBy, "issued_by");
    }
}
