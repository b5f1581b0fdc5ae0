package io.usagemeter.enforcer.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.kit.ApiError;
import io.usagemeter.kit.HttpProblem;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.events.Violation;
import io.usagemeter.schema.json.Json;
import java.time.Instant;
import java.time.YearMonth;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;

/**
 * Bodies of the admin write routes; {@code command_id} lets a client retry and still apply once.
 *
 * <p>Each body is read field by field ({@code parse}), so a wrong type, an unknown field or a value
 * outside the {@link Bounds} is refused naming the field and the bound, and every violation is
 * reported at once. {@code violations()} checks the values of a built request: the admin verbs call
 * it before they send, so the CLI refuses exactly what the route would.
 */
public final class AdminRequests {

    private AdminRequests() {
    }

    /** A body that breaks the rules: answered 400 with one detail per violation. */
    public static final class Invalid extends HttpProblem {
        private final transient List<Violation> violations;

        public Invalid(List<Violation> violations) {
            super(400, summary(violations), violations.stream()
                    .map(v -> new ApiError.FieldViolation(v.field(), v.message())).toList());
            this.violations = List.copyOf(violations);
        }

        public List<Violation> violations() {
            return violations;
        }

        private static String summary(List<Violation> violations) {
            if (violations.size() == 1) {
                Violation only = violations.get(0);
                return Violation.DOCUMENT.equals(only.field()) ? only.message() : "invalid " + only.field() + ": " + only.message();
            }
            return "invalid request: " + violations.size() + " problems";
        }
    }

    /** {@code POST /v1/admin/users/{user_id}/reset-usage}: every field optional. */
    public record ResetUsage(YearMonth month, Boolean dryRun, String commandId) {

        private static final List<String> FIELDS = List.of("month", "dry_run", "command_id");

        /** The body (an empty one means every default), or {@link Invalid}. */
        public static ResetUsage parse(String body) {
            List<Violation> violations = new ArrayList<>();
            JsonNode node = object(body, true, FIELDS, violations);
            YearMonth month = null;
            String monthText = text(node, "month", false, violations);
            if (monthText != null) {
                try {
                    month = YearMonth.parse(monthText);
                } catch (DateTimeParseException e) {
                    violations.add(new Violation("month", "must be a month YYYY-MM, was '" + abbreviate(monthText) + "'"));
                }
            }
            Boolean dryRun = bool(node, "dry_run", violations);
            String commandId = text(node, "command_id", false, violations);
            ResetUsage request = new ResetUsage(month, dryRun, commandId);
            return valid(request, violations, request.violations());
        }

        public List<Violation> violations() {
            List<Violation> violations = new ArrayList<>();
            checkCommandId(commandId, violations);
            return violations;
        }

        /**
         * The reset of {@code month} at {@code now} within the {@code horizon}: a month that has not
         * started, or one before the horizon (pointing to {@code meter admin replay}), is refused.
         */
        public static void requireWithinHorizon(YearMonth month, Instant now, ResetHorizon horizon) {
            horizon.refusal(month, now).ifPresent(refusal -> {
                throw new Invalid(List.of(new Violation("month", refusal)));
            });
        }
    }

    /** {@code POST /v1/admin/users/{user_id}/credits}: {@code amount} required; {@code dry_run} previews the effect. */
    public record AddCredits(Long amount, Boolean dryRun, String commandId) {

        private static final List<String> FIELDS = List.of("amount", "dry_run", "command_id");

        public AddCredits(Long amount, String commandId) {
            this(amount, null, commandId);
        }

        public static AddCredits parse(String body) {
            List<Violation> violations = new ArrayList<>();
            JsonNode node = object(body, false, FIELDS, violations);
            Long amount = integer(node, "amount", 1, Bounds.MAX_CREDITS_PER_COMMAND, violations);
            Boolean dryRun = bool(node, "dry_run", violations);
            String commandId = text(node, "command_id", false, violations);
            AddCredits request = new AddCredits(amount, dryRun, commandId);
            return valid(request, violations, request.violations());
        }

        public List<Violation> violations() {
            List<Violation> violations = new ArrayList<>();
            if (amount == null) {
                violations.add(new Violation("amount", "is required: an integer within 1 and " + Bounds.MAX_CREDITS_PER_COMMAND));
            } else {
                AdminCommand.checkAmount(amount, violations);
            }
            checkCommandId(commandId, violations);
            return violations;
        }
    }

    /** {@code PUT /v1/admin/users/{user_id}/plan}: {@code plan} required; {@code dry_run} previews the effect. */
    public record SetPlan(String plan, Boolean dryRun, String commandId) {

        private static final List<String> FIELDS = List.of("plan", "dry_run", "command_id");

        public SetPlan(String plan, String commandId) {
            this(plan, null, commandId);
        }

        public static SetPlan parse(String body) {
            List<Violation> violations = new ArrayList<>();
            JsonNode node = object(body, false, FIELDS, violations);
            String plan = text(node, "plan", true, violations);
            Boolean dryRun = bool(node, "dry_run", violations);
            String commandId = text(node, "command_id", false, violations);
            SetPlan request = new SetPlan(plan, dryRun, commandId);
            return valid(request, violations, request.violations());
        }

        public List<Violation> violations() {
            List<Violation> violations = new ArrayList<>();
            if (plan == null) {
                violations.add(new Violation("plan", "is required"));
            } else {
                AdminCommand.checkPlan(plan, violations);
            }
            checkCommandId(commandId, violations);
            return violations;
        }
    }

    /** Throws {@link Invalid} unless {@code violations} is empty (for the admin verbs, before they send). */
    public static void require(List<Violation> violations) {
        if (!violations.isEmpty()) {
            throw new Invalid(violations);
        }
    }

    /** Usage of a month seen against the current effective limit, before and after a reset. */
    public record UsageSnapshot(long used, long effectiveLimit, long remaining, String state) {

        /** {@code used} against {@code effectiveLimit}, its state by the limit rules under its wire name. */
        public static UsageSnapshot of(long used, long effectiveLimit) {
            return new UsageSnapshot(used, effectiveLimit, LimitRules.remaining(used, effectiveLimit),
                    Json.write(LimitStatus.of(used, effectiveLimit)).replace("\"", ""));
        }
    }

    public record ResetUsageResult(String commandId, boolean dryRun, boolean published, UUID userId,
                                   YearMonth month, Instant resetAt, UsageSnapshot before, UsageSnapshot after) {}

    public record CommandAccepted(String commandId, String type, UUID userId, boolean published) {}

    /**
     * What adding bonus credits would do ({@code dry_run}), nothing published: the month's usage against the
     * effective limit before and after.
     */
    public record AddCreditsPreview(boolean dryRun, boolean published, UUID userId, long amount, long bonusCreditsBefore,
                                    long bonusCreditsAfter, UsageSnapshot before, UsageSnapshot after) {}

    /** What a plan change would do ({@code dry_run}), nothing published. */
    public record SetPlanPreview(boolean dryRun, boolean published, UUID userId, String planBefore, String planAfter,
                                 long planUnitsBefore, long planUnitsAfter, UsageSnapshot before, UsageSnapshot after) {}

    // ---- reading a body field by field

    /** A given command id (absent: the route draws one) within the bounds of {@code applied_commands}. */
    private static void checkCommandId(String commandId, List<Violation> violations) {
        if (commandId != null) {
            AdminCommand.checkCommandId(commandId, violations);
        }
    }

    private static <T> T valid(T request, List<Violation> shape, List<Violation> values) {
        List<Violation> all = new ArrayList<>(shape);
        // A field already refused for its type is not reported twice.
        values.stream().filter(v -> shape.stream().noneMatch(s -> s.field().equals(v.field()))).forEach(all::add);
        require(all);
        return request;
    }

    private static JsonNode object(String body, boolean emptyAllowed, List<String> fields, List<Violation> violations) {
        if (body == null || body.isBlank()) {
            if (!emptyAllowed) {
                throw new Invalid(List.of(new Violation(Violation.DOCUMENT, "a JSON body is required")));
            }
            return Json.reader().createObjectNode();
        }
        JsonNode node;
        try {
            node = Json.tree(body);
        } catch (JsonProcessingException e) {
            throw new Invalid(List.of(new Violation(Violation.DOCUMENT, "malformed JSON body: " + e.getOriginalMessage())));
        }
        if (node == null || !node.isObject()) {
            throw new Invalid(List.of(new Violation(Violation.DOCUMENT, "the body must be a JSON object")));
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!fields.contains(name)) {
                violations.add(new Violation(abbreviate(name), "unknown field; allowed fields are " + String.join(", ", fields)));
            }
        }
        return node;
    }

    private static String text(JsonNode node, String field, boolean required, List<Violation> violations) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            if (required) {
                violations.add(new Violation(field, "is required"));
            }
            return null;
        }
        if (!value.isTextual()) {
            violations.add(new Violation(field, "must be a string, was " + value.getNodeType().name().toLowerCase(java.util.Locale.ROOT)));
            return null;
        }
        return value.textValue();
    }

    private static Boolean bool(JsonNode node, String field, List<Violation> violations) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isBoolean()) {
            violations.add(new Violation(field, "must be true or false"));
            return null;
        }
        return value.booleanValue();
    }

    private static Long integer(JsonNode node, String field, long min, long max, List<Violation> violations) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
            violations.add(new Violation(field, "must be an integer within " + min + " and " + max + ", was "
                    + abbreviate(value.toString())));
            return null;
        }
        return value.longValue();
    }

    private static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "...";
    }
}
