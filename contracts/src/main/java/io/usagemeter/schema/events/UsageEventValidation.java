package io.usagemeter.schema.events;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/**
 * The usage event contract (product.md, "Usage event (v1)"), shared by the ingest service and
 * the Java client so both reject exactly the same events with the same messages.
 *
 * <p>{@link #parse(JsonNode)} checks shape, types and ranges of a JSON document and reports every
 * violation, not only the first. {@link #check(UsageEvent, Instant, Duration)} checks a typed event
 * against the ranges and the time rules (not too far in the future, not older than the lateness
 * bound). {@link #validate(JsonNode, Instant, Duration)} does both.
 */
public final class UsageEventValidation {

    public static final int EVENT_ID_MAX_LENGTH = 128;
    public static final int ENDPOINT_MAX_LENGTH = 512;
    public static final int METHOD_MAX_LENGTH = Bounds.METHOD_MAX_LENGTH;
    public static final int STATUS_CODE_MIN = 100;
    public static final int STATUS_CODE_MAX = 599;
    /** How far in the future {@code occurred_at} may lie (clock skew between apps and ingest). */
    public static final Duration MAX_FUTURE_SKEW = Duration.ofMinutes(5);
    /** How old an event may be by default (as Stripe's meter events); configurable at ingest. */
    public static final Duration DEFAULT_LATENESS = Duration.ofDays(35);

    public static final Set<String> REQUIRED_FIELDS = Set.of("event_id", "user_id", "occurred_at", "provider",
            "endpoint", "method", "status_code", "response_time_ms", "request_bytes", "response_bytes");
    public static final Set<String> OPTIONAL_FIELDS = Set.of("tokens", "units");
    /** Every wire field of usage event v1, in contract order (used in the unknown-field message). */
    public static final List<String> FIELDS = List.of("event_id", "user_id", "occurred_at", "provider",
            "endpoint", "method", "status_code", "response_time_ms", "request_bytes", "response_bytes",
            "tokens", "units");

    private static final Set<String> KNOWN_FIELDS = Set.copyOf(FIELDS);
    /** The range of each number, for the message about a number too large even for its Java type. */
    private static final java.util.Map<String, String> NUMBER_RANGES = java.util.Map.of(
            "status_code", STATUS_CODE_MIN + " and " + STATUS_CODE_MAX,
            "response_time_ms", "0 and " + Bounds.MAX_RESPONSE_TIME_MS,
            "request_bytes", "0 and " + Bounds.MAX_BYTES,
            "response_bytes", "0 and " + Bounds.MAX_BYTES,
            "tokens", "0 and " + Bounds.MAX_TOKENS,
            "units", "1 and " + Bounds.MAX_UNITS);
    private static final String UNKNOWN_FIELD_HINT = "'; allowed fields are " + String.join(", ", FIELDS);
    // RFC 9110 token characters: a method is a token. A table, not a regex: this runs per event.
    private static final boolean[] TOKEN_CHARS = new boolean[128];

    static {
        for (char c : "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray()) {
            TOKEN_CHARS[c] = true;
        }
    }

    private UsageEventValidation() {
    }

    /** Either a valid event or the list of every violation found. */
    public sealed interface Result permits Valid, Invalid {
        boolean isValid();
    }

    public record Valid(UsageEvent event) implements Result {
        public Valid {
            Objects.requireNonNull(event, "event");
        }

        @Override
        public boolean isValid() {
            return true;
        }
    }

    public record Invalid(List<Violation> violations) implements Result {
        public Invalid {
            violations = List.copyOf(violations);
            if (violations.isEmpty()) {
                throw new IllegalArgumentException("an invalid result needs at least one violation");
            }
        }

        @Override
        public boolean isValid() {
            return false;
        }
    }

    /** Shape, types and ranges of one JSON event; no time rules (see {@link #validate}). */
    public static Result parse(JsonNode node) {
        return parse(node, null, null);
    }

    /** With {@code now} set, the time rules too, so every violation of the event is named at once. */
    private static Result parse(JsonNode node, Instant now, Duration lateness) {
        List<Violation> violations = new ArrayList<>();
        if (node == null || !node.isObject()) {
            return new Invalid(List.of(new Violation(Violation.DOCUMENT, "a usage event must be a JSON object")));
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!KNOWN_FIELDS.contains(name)) {
                violations.add(new Violation(name, "unknown field '" + name + UNKNOWN_FIELD_HINT));
            }
        }
        Fields fields = new Fields(node, violations);
        String eventId = fields.string("event_id");
        String userIdText = fields.string("user_id");
        String occurredAtText = fields.string("occurred_at");
        String providerText = fields.string("provider");
        String endpoint = fields.string("endpoint");
        String method = fields.string("method");
        Integer statusCode = fields.integer("status_code");
        Long responseTimeMs = fields.longValue("response_time_ms");
        Long requestBytes = fields.longValue("request_bytes");
        Long responseBytes = fields.longValue("response_bytes");
        Long tokens = fields.optionalLong("tokens", UsageEvent.DEFAULT_TOKENS);
        Long units = fields.optionalLong("units", UsageEvent.DEFAULT_UNITS);

        UUID userId = userIdText == null ? null : parseUserId(userIdText, violations);
        Instant occurredAt = occurredAtText == null ? null : parseOccurredAt(occurredAtText, violations);
        if (occurredAt != null && now != null) {
            checkTime(occurredAt, now, lateness, violations);
        }
        Provider provider = null;
        if (providerText != null) {
            provider = Provider.fromWireName(providerText).orElse(null);
            if (provider == null) {
                violations.add(new Violation("provider", "must be one of " + String.join(", ", Provider.wireNames())
                        + ", was '" + abbreviate(providerText) + "'"));
            }
        }
        if (eventId != null) {
            checkEventId(eventId, violations);
        }
        if (endpoint != null) {
            checkEndpoint(endpoint, violations);
        }
        if (method != null) {
            checkMethod(method, violations);
        }
        if (statusCode != null) {
            checkStatusCode(statusCode, violations);
        }
        if (responseTimeMs != null) {
            checkResponseTime(responseTimeMs, violations);
        }
        if (requestBytes != null) {
            checkBytes("request_bytes", requestBytes, violations);
        }
        if (responseBytes != null) {
            checkBytes("response_bytes", responseBytes, violations);
        }
        if (tokens != null) {
            checkTokens(tokens, violations);
        }
        if (units != null) {
            checkUnits(units, violations);
        }
        if (!violations.isEmpty()) {
            return new Invalid(violations);
        }
        return new Valid(new UsageEvent(eventId, userId, occurredAt, provider, endpoint, method, statusCode,
                responseTimeMs, requestBytes, responseBytes, tokens, units));
    }

    /** {@link #parse} and then the time rules of {@link #check} against {@code now}. */
    public static Result validate(JsonNode node, Instant now, Duration lateness) {
        Objects.requireNonNull(now, "now");
        Objects.requireNonNull(lateness, "lateness");
        return parse(node, now, lateness);
    }

    /**
     * Ranges and time rules of a typed event: {@code occurred_at} at most {@link #MAX_FUTURE_SKEW}
     * after {@code now} and at most {@code lateness} before it (both bounds inclusive).
     *
     * @return every violation, empty when the event is valid
     */
    public static List<Violation> check(UsageEvent event, Instant now, Duration lateness) {
        Objects.requireNonNull(now, "now");
        Objects.requireNonNull(lateness, "lateness");
        List<Violation> violations = checkRanges(event);
        checkTime(event.occurredAt(), now, lateness, violations);
        return violations;
    }

    /**
     * The ranges and text rules of a typed event, without the time rules (which depend on when it
     * is checked): what a stage behind ingest checks of an event it reads from Kafka.
     *
     * @return every violation, empty when the event is within bounds
     */
    public static List<Violation> checkRanges(UsageEvent event) {
        List<Violation> violations = new ArrayList<>();
        checkEventId(event.eventId(), violations);
        checkEndpoint(event.endpoint(), violations);
        checkMethod(event.method(), violations);
        checkStatusCode(event.statusCode(), violations);
        checkResponseTime(event.responseTimeMs(), violations);
        checkBytes("request_bytes", event.requestBytes(), violations);
        checkBytes("response_bytes", event.responseBytes(), violations);
        checkTokens(event.tokens(), violations);
        checkUnits(event.units(), violations);
        return violations;
    }

    /**
     * Throws unless {@code event} is within {@link #checkRanges}: for a stream processor, whose
     * processing-exception handler sends the record to the dead-letter topic with this message.
     */
    public static void requireWithinBounds(UsageEvent event) {
        List<Violation> violations = checkRanges(event);
        if (!violations.isEmpty()) {
            throw new IllegalArgumentException("usage event " + abbreviate(event.eventId()) + " of user "
                    + event.userId() + " is out of bounds: " + violations);
        }
    }

    private static void checkTime(Instant occurredAt, Instant now, Duration lateness, List<Violation> violations) {
        if (occurredAt.isAfter(now.plus(MAX_FUTURE_SKEW))) {
            violations.add(new Violation("occurred_at", "is more than " + MAX_FUTURE_SKEW.toMinutes()
                    + " minutes in the future (" + occurredAt + ", now " + now + ")"));
        }
        if (occurredAt.isBefore(now.minus(lateness))) {
            violations.add(new Violation("occurred_at", "is older than the lateness bound of " + describe(lateness)
                    + " (" + occurredAt + ", now " + now + ")"));
        }
    }

    private static void checkEventId(String eventId, List<Violation> violations) {
        Bounds.checkText("event_id", eventId, 1, EVENT_ID_MAX_LENGTH, violations);
    }

    private static void checkEndpoint(String endpoint, List<Violation> violations) {
        Bounds.checkText("endpoint", endpoint, 1, ENDPOINT_MAX_LENGTH, violations);
    }

    private static void checkMethod(String method, List<Violation> violations) {
        if (method.isEmpty()) {
            violations.add(new Violation("method", "must not be empty"));
        } else if (method.length() > METHOD_MAX_LENGTH) {
            violations.add(new Violation("method", "must be 1 to " + METHOD_MAX_LENGTH + " characters, was "
                    + method.codePointCount(0, method.length())));
        } else if (!isToken(method)) {
            violations.add(new Violation("method", "must be an HTTP method token (e.g. GET, POST), was '" + abbreviate(method) + "'"));
        }
    }

    private static boolean isToken(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= TOKEN_CHARS.length || !TOKEN_CHARS[c]) {
                return false;
            }
        }
        return true;
    }

    private static void checkStatusCode(int statusCode, List<Violation> violations) {
        if (statusCode < STATUS_CODE_MIN || statusCode > STATUS_CODE_MAX) {
            violations.add(new Violation("status_code", "must be within " + STATUS_CODE_MIN + " and " + STATUS_CODE_MAX + ", was " + statusCode));
        }
    }

    private static void checkResponseTime(long responseTimeMs, List<Violation> violations) {
        Bounds.checkRange("response_time_ms", responseTimeMs, 0, Bounds.MAX_RESPONSE_TIME_MS, violations);
    }

    private static void checkBytes(String field, long bytes, List<Violation> violations) {
        Bounds.checkRange(field, bytes, 0, Bounds.MAX_BYTES, violations);
    }

    private static void checkTokens(long tokens, List<Violation> violations) {
        Bounds.checkRange("tokens", tokens, 0, Bounds.MAX_TOKENS, violations);
    }

    private static void checkUnits(long units, List<Violation> violations) {
        Bounds.checkRange("units", units, 1, Bounds.MAX_UNITS, violations);
    }

    private static UUID parseUserId(String text, List<Violation> violations) {
        UUID uuid = canonicalUuid(text);
        if (uuid == null) {
            violations.add(new Violation("user_id", "must be a UUID (8-4-4-4-12 hex digits), was '" + abbreviate(text) + "'"));
        }
        return uuid;
    }

    /** 8-4-4-4-12 hex digits of either case, or {@code null} (no regex, no substrings: this runs per event). */
    private static UUID canonicalUuid(String text) {
        if (text.length() != 36 || text.charAt(8) != '-' || text.charAt(13) != '-' || text.charAt(18) != '-'
                || text.charAt(23) != '-') {
            return null;
        }
        long high = 0;
        long low = 0;
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                continue;
            }
            int digit = hexDigit(text.charAt(i));
            if (digit < 0) {
                return null;
            }
            if (i < 18) {
                high = high << 4 | digit;
            } else {
                low = low << 4 | digit;
            }
        }
        return new UUID(high, low);
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        } else if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    private static Instant parseOccurredAt(String text, List<Violation> violations) {
        Instant occurredAt = OccurredAtParser.parse(text);
        if (occurredAt == null) {
            violations.add(new Violation("occurred_at", "must be an RFC 3339 timestamp with offset, e.g. "
                    + "2025-01-31T12:00:00Z, was '" + abbreviate(text) + "'"));
        }
        return occurredAt;
    }

    private static String describe(Duration d) {
        return d.toSeconds() % 86_400 == 0 ? d.toDays() + " days" : d.toString();
    }

    // Echo rejected values back, but never a megabyte of them.
    private static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "...";
    }

    /** Typed reads of JSON fields that record a violation instead of throwing. */
    private record Fields(JsonNode node, List<Violation> violations) {

        String string(String name) {
            JsonNode value = required(name);
            if (value == null) {
                return null;
            }
            if (!value.isTextual()) {
                violations.add(new Violation(name, "must be a string, was " + type(value)));
                return null;
            }
            return value.textValue();
        }

        Integer integer(String name) {
            JsonNode value = required(name);
            if (value == null) {
                return null;
            }
            if (!value.isIntegralNumber() || !value.canConvertToInt()) {
                violations.add(new Violation(name, mismatch(name, value)));
                return null;
            }
            return value.intValue();
        }

        Long longValue(String name) {
            JsonNode value = required(name);
            return value == null ? null : asLong(name, value);
        }

        /** An optional number: absent or {@code null} means {@code defaultValue}. */
        Long optionalLong(String name, long defaultValue) {
            JsonNode value = node.get(name);
            if (value == null || value.isNull()) {
                return defaultValue;
            }
            return asLong(name, value);
        }

        private Long asLong(String name, JsonNode value) {
            if (!value.isIntegralNumber() || !value.canConvertToLong()) {
                violations.add(new Violation(name, mismatch(name, value)));
                return null;
            }
            return value.longValue();
        }

        private JsonNode required(String name) {
            JsonNode value = node.get(name);
            if (value == null || value.isNull()) {
                violations.add(new Violation(name, "is required"));
                return null;
            }
            return value;
        }

        private static String mismatch(String name, JsonNode value) {
            if (value.isIntegralNumber()) {
                return "must be within " + NUMBER_RANGES.get(name) + ", was " + abbreviate(value.asText());
            }
            return "must be an integer, was " + type(value);
        }

        private static String type(JsonNode value) {
            return switch (value.getNodeType()) {
                case STRING -> "a string";
                case NUMBER -> value.isIntegralNumber() ? "an integer out of range" : "a fractional number";
                case BOOLEAN -> "a boolean";
                case ARRAY -> "an array";
                case OBJECT -> "an object";
                default -> value.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
            };
        }
    }
}
