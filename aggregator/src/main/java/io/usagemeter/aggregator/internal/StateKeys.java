package io.usagemeter.aggregator.internal;

import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.UUID;

/**
 * String keys of the aggregator's state stores, laid out so that byte order is the order the
 * purges and recomputations need: the month comes first (so whole months leave the stores by one
 * range), then the user, then for per-event entries a fixed-width event time (so "events after
 * the reset instant" is one range scan).
 */
public final class StateKeys {

    private static final DateTimeFormatter MONTH = DateTimeFormatter.ofPattern("uuuu-MM", Locale.ROOT);
    private static final char SEPARATOR = '|';
    /** Sorts after every digit and after the separator: closes a range over a prefix. */
    private static final String END = "~";
    private static final String CHUNK = "c|";

    private StateKeys() {
    }

    /** {@code user|event_id}: the dedupe identity of an event. */
    public static String dedupe(UUID user, String eventId) {
        return user.toString() + SEPARATOR + eventId;
    }

    /** {@code month|user}: the summary and the reset of one user's month. */
    public static String userMonth(YearMonth month, UUID user) {
        return month(month) + SEPARATOR + user;
    }

    public static YearMonth monthOf(String key) {
        return YearMonth.parse(key.substring(0, 7), MONTH);
    }

    public static UUID userOf(String userMonthKey) {
        return UUID.fromString(userMonthKey.substring(8, 8 + 36));
    }

    /** {@code month|user|occurred_at|event_id}: one counted event kept for recomputation. */
    public static String contribution(YearMonth month, UUID user, Instant occurredAt, String eventId) {
        return userMonth(month, user) + SEPARATOR + instant(occurredAt) + SEPARATOR + eventId;
    }

    /** The first contribution key of the user's month that occurred strictly after {@code instant}. */
    public static String contributionsAfter(YearMonth month, UUID user, Instant instant) {
        return userMonth(month, user) + SEPARATOR + instant(instant.plusNanos(1));
    }

    /** The key after every contribution of the user's month. */
    public static String contributionsEnd(YearMonth month, UUID user) {
        return userMonth(month, user) + SEPARATOR + END;
    }

    /** The first key of the user's month (every contribution sorts at or after it). */
    public static String contributionsStart(YearMonth month, UUID user) {
        return userMonth(month, user) + SEPARATOR;
    }

    /** {@code c|segment|sequence}: one chunk of the events remembered in a segment of the dedupe memory. */
    public static String chunk(long segment, int sequence) {
        StringBuilder out = new StringBuilder(34).append(CHUNK);
        padded(out, segment, 19).append(SEPARATOR);
        return padded(out, sequence, 10).toString();
    }

    /** The first chunk key (chunks sort by segment, then by sequence). */
    public static String chunksStart() {
        return CHUNK;
    }

    /** The key after every chunk key. */
    public static String chunksEnd() {
        return CHUNK + END;
    }

    public static long segmentOfChunk(String chunkKey) {
        return Long.parseLong(chunkKey.substring(CHUNK.length(), CHUNK.length() + 19));
    }

    public static int sequenceOfChunk(String chunkKey) {
        return Integer.parseInt(chunkKey.substring(CHUNK.length() + 20));
    }

    /** The first key of {@code month}: everything below it belongs to earlier months. */
    public static String monthStart(YearMonth month) {
        return month(month);
    }

    /** The smallest possible key: the start of a range over everything before some month. */
    public static String first() {
        return "";
    }

    /** The calendar month of {@code instant} in UTC, the bucket a usage event counts in. */
    public static YearMonth utcMonth(Instant instant) {
        return YearMonth.from(instant.atOffset(ZoneOffset.UTC));
    }

    // Keys are built several times per event: padded by hand, as String.format and the month
    // formatter showed up in the profile. Same text as the "uuuu-MM" pattern and %012d.%09d.

    private static String month(YearMonth month) {
        if (month.getYear() < 1000 || month.getYear() > 9999) {
            return month.format(MONTH);
        }
        StringBuilder out = new StringBuilder(7).append(month.getYear()).append('-');
        return padded(out, month.getMonthValue(), 2).toString();
    }

    /** Epoch seconds (12 digits) and nanoseconds (9 digits): lexical order is time order from 1970 to year 33658. */
    static String instant(Instant instant) {
        if (instant.getEpochSecond() < 0) {
            throw new IllegalArgumentException("event time before 1970 cannot be stored: " + instant);
        }
        StringBuilder out = new StringBuilder(22);
        padded(out, instant.getEpochSecond(), 12).append('.');
        return padded(out, instant.getNano(), 9).toString();
    }

    private static StringBuilder padded(StringBuilder out, long value, int width) {
        String digits = Long.toString(value);
        for (int i = digits.length(); i < width; i++) {
            out.append('0');
        }
        return out.append(digits);
    }
}
