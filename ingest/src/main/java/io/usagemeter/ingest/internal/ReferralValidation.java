package io.usagemeter.ingest.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.events.UsageEventValidation;
import io.usagemeter.schema.events.Violation;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * The referral wire contract at ingest ({@code POST /v1/referrals}): the same style of rules as
 * usage events (unknown fields rejected, ids bounded, time within the future skew and lateness
 * bound, no control characters) plus the one rule that needs no state, no self-referral. "Referred once" needs the
 * history and is decided by the enforcer.
 */
public final class ReferralValidation {

    static final List<String> FIELDS = List.of("referral_id", "referrer_id", "referred_id", "status", "occurred_at");
    private static final Pattern CANONICAL_UUID = Pattern.compile(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

    private ReferralValidation() {}

    /** The referral in {@code node}, or {@code null} after adding every violation to {@code violations}. */
    public static ReferralEvent validate(JsonNode node, Instant now, Duration lateness, List<Violation> violations) {
        if (node == null || !node.isObject()) {
            violations.add(new Violation(Violation.DOCUMENT, "a referral must be a JSON object"));
            return null;
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                violations.add(new Violation(name, "unknown field '" + name + "'; allowed fields are " + String.join(", ", FIELDS)));
            }
        }
        String referralId = text(node, "referral_id", violations);
        if (referralId != null) {
            ReferralEvent.checkReferralId(referralId, violations);
        }
        UUID referrer = uuid(node, "referrer_id", violations);
        UUID referred = uuid(node, "referred_id", violations);
        if (referrer != null && referrer.equals(referred)) {
            violations.add(new Violation("referred_id", "must differ from referrer_id: self-referral is refused"));
        }
        ReferralStatus status = null;
        String statusText = text(node, "status", violations);
        if (statusText != null) {
            switch (statusText) {
                case "pending" -> status = ReferralStatus.PENDING;
                case "completed" -> status = ReferralStatus.COMPLETED;
                default -> violations.add(new Violation("status", "must be one of pending, completed, was '" + abbreviate(statusText) + "'"));
            }
        }
        Instant occurredAt = null;
        String occurredAtText = text(node, "occurred_at", violations);
        if (occurredAtText != null) {
            try {
                occurredAt = OffsetDateTime.parse(occurredAtText, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
                if (occurredAt.isAfter(now.plus(UsageEventValidation.MAX_FUTURE_SKEW))) {
                    violations.add(new Violation("occurred_at", "is more than "
                            + UsageEventValidation.MAX_FUTURE_SKEW.toMinutes() + " minutes in the future"));
                } else if (occurredAt.isBefore(now.minus(lateness))) {
                    violations.add(new Violation("occurred_at", "is older than the lateness bound of " + lateness));
                }
            } catch (DateTimeParseException e) {
                violations.add(new Violation("occurred_at", "must be an RFC 3339 timestamp with offset, e.g. "
                        + "2025-01-31T12:00:00Z, was '" + abbreviate(occurredAtText) + "'"));
            }
        }
        if (!violations.isEmpty()) {
            return null;
        }
        return new ReferralEvent(referralId, referrer, referred, status, occurredAt);
    }

    private static String text(JsonNode node, String field, List<Violation> violations) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            violations.add(new Violation(field, "is required"));
            return null;
        }
        if (!value.isTextual()) {
            violations.add(new Violation(field, "must be a string"));
            return null;
        }
        return value.textValue();
    }

    private static UUID uuid(JsonNode node, String field, List<Violation> violations) {
        String text = text(node, field, violations);
        if (text == null) {
            return null;
        }
        if (!CANONICAL_UUID.matcher(text).matches()) {
            violations.add(new Violation(field, "must be a UUID (8-4-4-4-12 hex digits), was '" + abbreviate(text) + "'"));
            return null;
        }
        return UUID.fromString(text);
    }

    private static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "...";
    }
}
