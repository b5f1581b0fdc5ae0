package io.usagemeter.ingest.internal;

import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEventValidation;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.Month;
import java.time.Year;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The fast path of {@code POST /v1/events}: a plain JSON body (one event or an array) whose every event
 * is already in the topic's own form, byte for byte what the topic serde writes for it and what
 * {@code UsageClient} sends: the twelve fields once each in contract order, no whitespace inside an
 * event, {@code user_id} in lowercase, {@code occurred_at} as {@link Instant#toString()} writes it,
 * strings of printable ASCII without escapes. Such an event is checked where it lies in the body, and
 * its bytes become the record's value as they are (its {@code user_id} bytes the key): nothing is
 * parsed into objects and nothing is written again.
 *
 * <p>It answers only when it can prove that the general path (Jackson tree,
 * {@link UsageEventValidation}, the topic serde) would accept the whole body and publish the very
 * same records. For anything else (another layout, an escape, a value out of range, an event too
 * old, more events than allowed) it returns {@code null} and the general path decides: every
 * refusal, and every message naming a field, comes from there. {@code CanonicalBatchTest} holds the
 * two paths to that on generated and mutated bodies.
 */
public final class CanonicalBatch {

    private static final byte[] EVENT_ID = ascii("{\"event_id\":\"");
    private static final byte[] USER_ID = ascii("\",\"user_id\":\"");
    private static final byte[] OCCURRED_AT = ascii("\",\"occurred_at\":\"");
    private static final byte[] PROVIDER = ascii("\",\"provider\":\"");
    private static final byte[] ENDPOINT = ascii("\",\"endpoint\":\"");
    private static final byte[] METHOD = ascii("\",\"method\":\"");
    private static final byte[] STATUS_CODE = ascii("\",\"status_code\":");
    private static final byte[] RESPONSE_TIME_MS = ascii(",\"response_time_ms\":");
    private static final byte[] REQUEST_BYTES = ascii(",\"request_bytes\":");
    private static final byte[] RESPONSE_BYTES = ascii(",\"response_bytes\":");
    private static final byte[] TOKENS = ascii(",\"tokens\":");
    private static final byte[] UNITS = ascii(",\"units\":");
    /** Each provider's wire name followed by its closing quote. */
    private static final byte[][] PROVIDERS = Provider.wireNames().stream().map(name -> ascii(name + "\"")).toArray(byte[][]::new);
    private static final int UUID_LENGTH = 36;
    /** {@code yyyy-MM-ddTHH:mm:ssZ}, then 4, 7 or 10 more for a fraction of 3, 6 or 9 digits. */
    private static final int INSTANT_MIN_LENGTH = 20;
    private static final int INSTANT_MAX_LENGTH = 30;
    private static final int[] NANOS_SCALE = {0, 0, 0, 1_000_000, 0, 0, 1_000, 0, 0, 1};
    /** Digits of a number read here; more could overflow a long and are left to the general path. */
    private static final int MAX_DIGITS = 18;
    /** RFC 9110 token characters, as {@link UsageEventValidation} accepts in {@code method}. */
    private static final boolean[] TOKEN_CHARS = new boolean[128];

    static {
        for (char c : "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray()) {
            TOKEN_CHARS[c] = true;
        }
    }

    private final byte[] body;
    private int pos;
    /** The event time of the event just read. */
    private long seconds;
    private int nanos;

    private CanonicalBatch(byte[] body) {
        this.body = body;
    }

    /**
     * The records of {@code body} when every event is in the topic's form and valid at {@code now}, in
     * the body's order; {@code null} when the general path must decide.
     */
    public static List<TopicRecord> records(byte[] body, int maxBatch, Instant now, Duration lateness) {
        Instant latest = now.plus(UsageEventValidation.MAX_FUTURE_SKEW);
        Instant earliest = now.minus(lateness);
        CanonicalBatch reader = new CanonicalBatch(body);
        reader.skipWhitespace();
        List<TopicRecord> records;
        if (reader.at('[')) {
            reader.pos++;
            reader.skipWhitespace();
            records = new ArrayList<>(Math.min(maxBatch, body.length / 256 + 1));
            while (true) {
                TopicRecord record = reader.event(latest, earliest);
                if (record == null || records.size() == maxBatch) {
                    return null;
                }
                records.add(record);
                reader.skipWhitespace();
                if (reader.at(',')) {
                    reader.pos++;
                    reader.skipWhitespace();
                } else if (reader.at(']')) {
                    reader.pos++;
                    break;
                } else {
                    return null;
                }
            }
        } else {
            TopicRecord record = reader.event(latest, earliest);
            if (record == null) {
                return null;
            }
            records = List.of(record);
        }
        reader.skipWhitespace();
        return reader.pos == body.length ? records : null;
    }

    /** One event from {@code pos}, left after its closing brace; {@code null} when it is not canonical and valid. */
    private TopicRecord event(Instant latest, Instant earliest) {
        int start = pos;
        if (!literal(EVENT_ID) || !text(UsageEventValidation.EVENT_ID_MAX_LENGTH) || !literal(USER_ID)) {
            return null;
        }
        int user = pos;
        if (!lowercaseUuid() || !literal(OCCURRED_AT) || !occurredAt(latest, earliest) || !literal(PROVIDER)
                || !provider() || !literal(ENDPOINT) || !text(UsageEventValidation.ENDPOINT_MAX_LENGTH)
                || !literal(METHOD) || !method() || !literal(STATUS_CODE)
                || !number(UsageEventValidation.STATUS_CODE_MIN, UsageEventValidation.STATUS_CODE_MAX)
                || !literal(RESPONSE_TIME_MS) || !number(0, Bounds.MAX_RESPONSE_TIME_MS)
                || !literal(REQUEST_BYTES) || !number(0, Bounds.MAX_BYTES)
                || !literal(RESPONSE_BYTES) || !number(0, Bounds.MAX_BYTES)
                || !literal(TOKENS) || !number(0, Bounds.MAX_TOKENS)
                || !literal(UNITS) || !number(1, Bounds.MAX_UNITS)
                || !at('}')) {
            return null;
        }
        pos++;
        return new TopicRecord(Arrays.copyOfRange(body, user, user + UUID_LENGTH), Arrays.copyOfRange(body, start, pos),
                seconds * 1000 + nanos / 1_000_000);
    }

    private boolean at(char c) {
        return pos < body.length && body[pos] == c;
    }

    private void skipWhitespace() {
        while (pos < body.length && (body[pos] == ' ' || body[pos] == '\n' || body[pos] == '\r' || body[pos] == '\t')) {
            pos++;
        }
    }

    private boolean literal(byte[] expected) {
        if (!Arrays.equals(body, pos, Math.min(pos + expected.length, body.length), expected, 0, expected.length)) {
            return false;
        }
        pos += expected.length;
        return true;
    }

    /**
     * 1 to {@code maxLength} printable ASCII characters up to the closing quote (left at {@code pos}): the
     * same bytes in the body and in what the serde writes, within the length and free of control characters.
     */
    private boolean text(int maxLength) {
        int from = pos;
        int end = Math.min(body.length, from + maxLength + 1);
        int i = from;
        while (i < end) {
            byte b = body[i];
            if (b == '"') {
                break;
            }
            if (b < 0x20 || b > 0x7E || b == '\\') {
                return false;
            }
            i++;
        }
        if (i == from || i == end) {
            return false;
        }
        pos = i;
        return true;
    }

    /** 8-4-4-4-12 lowercase hex digits, as {@code UUID.toString()} writes the key. */
    private boolean lowercaseUuid() {
        if (pos + UUID_LENGTH > body.length) {
            return false;
        }
        for (int i = 0; i < UUID_LENGTH; i++) {
            byte b = body[pos + i];
            boolean ok = i == 8 || i == 13 || i == 18 || i == 23 ? b == '-' : (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f');
            if (!ok) {
                return false;
            }
        }
        pos += UUID_LENGTH;
        return true;
    }

    /**
     * {@code yyyy-MM-ddTHH:mm:ss[.fff|.ffffff|.fffffffff]Z} with the shortest fraction that holds the
     * instant, as {@link Instant#toString()} writes it, within the time rules.
     */
    private boolean occurredAt(Instant latest, Instant earliest) {
        int close = pos;
        int limit = Math.min(body.length, pos + INSTANT_MAX_LENGTH + 1);
        while (close < limit && body[close] != '"') {
            close++;
        }
        int length = close - pos;
        if (close == limit || length < INSTANT_MIN_LENGTH || body[close - 1] != 'Z' || body[pos + 4] != '-'
                || body[pos + 7] != '-' || body[pos + 10] != 'T' || body[pos + 13] != ':' || body[pos + 16] != ':') {
            return false;
        }
        int year = digits(pos, 4);
        int month = digits(pos + 5, 2);
        int day = digits(pos + 8, 2);
        int hour = digits(pos + 11, 2);
        int minute = digits(pos + 14, 2);
        int second = digits(pos + 17, 2);
        if (year < 0 || month < 1 || month > 12 || day < 1 || day > Month.of(month).length(Year.isLeap(year))
                || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
            return false;
        }
        int fractionDigits = length - INSTANT_MIN_LENGTH - 1;
        int fraction = 0;
        if (length > INSTANT_MIN_LENGTH) {
            if (body[pos + 19] != '.' || fractionDigits >= NANOS_SCALE.length || NANOS_SCALE[fractionDigits] == 0) {
                return false;
            }
            int value = digits(pos + 20, fractionDigits);
            if (value < 0) {
                return false;
            }
            fraction = value * NANOS_SCALE[fractionDigits];
            boolean shortest = switch (fractionDigits) {
                case 3 -> fraction > 0;
                case 6 -> fraction % 1_000_000 != 0;
                default -> fraction % 1_000 != 0;
            };
            if (!shortest) {
                return false;
            }
        }
        long epochSecond = LocalDate.of(year, month, day).toEpochDay() * 86_400 + hour * 3600L + minute * 60L + second;
        if (isAfter(epochSecond, fraction, latest) || isAfter(earliest.getEpochSecond(), earliest.getNano(), epochSecond, fraction)) {
            return false;
        }
        seconds = epochSecond;
        nanos = fraction;
        pos = close;
        return true;
    }

    private static boolean isAfter(long second, int nano, Instant other) {
        return isAfter(second, nano, other.getEpochSecond(), other.getNano());
    }

    private static boolean isAfter(long second, int nano, long otherSecond, int otherNano) {
        return second > otherSecond || (second == otherSecond && nano > otherNano);
    }

    private boolean provider() {
        for (byte[] name : PROVIDERS) {
            if (Arrays.equals(body, pos, Math.min(pos + name.length, body.length), name, 0, name.length)) {
                pos += name.length - 1;
                return true;
            }
        }
        return false;
    }

    private boolean method() {
        int from = pos;
        int end = Math.min(body.length, from + Bounds.METHOD_MAX_LENGTH + 1);
        int i = from;
        while (i < end && body[i] != '"') {
            byte b = body[i];
            if (b < 0 || !TOKEN_CHARS[b]) {
                return false;
            }
            i++;
        }
        if (i == from || i == end) {
            return false;
        }
        pos = i;
        return true;
    }

    /** A non-negative integer within {@code min..max}, written as JSON and the serde write it (no sign, no leading zero). */
    private boolean number(long min, long max) {
        int from = pos;
        long value = 0;
        while (pos < body.length && body[pos] >= '0' && body[pos] <= '9' && pos - from < MAX_DIGITS) {
            value = value * 10 + (body[pos] - '0');
            pos++;
        }
        int length = pos - from;
        if (length == 0 || (length > 1 && body[from] == '0') || (pos < body.length && body[pos] >= '0' && body[pos] <= '9')) {
            return false;
        }
        return value >= min && value <= max;
    }

    /** The value of {@code count} ASCII digits at {@code from}, or -1. */
    private int digits(int from, int count) {
        int value = 0;
        for (int i = from; i < from + count; i++) {
            byte b = body[i];
            if (b < '0' || b > '9') {
                return -1;
            }
            value = value * 10 + (b - '0');
        }
        return value;
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}
