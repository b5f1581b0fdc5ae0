package io.usagemeter.aggregator.internal;

import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.UUID;

/**
 * String keys of the aggregator's state stores, laid out so that byte order is the order the
 * purges and reads need: the month comes first in summaries and resets (so whole months leave the
 * stores by one range), and the dedupe memory's chunks sort by segment, then by sequence.
 */
public final class StateKeys {

    private static final DateTimeFormatter MONTH = DateTimeFormatter.ofPattern("uuuu-MM", Locale.ROOT);
    private static final char SEPARATOR = '|';
    /** Sorts after every digit and after the separator: closes a range over a prefix. */
    private static final String END = "~";
    private static final String CHUNK = "c|";

    private StateKeys() {
    }

    /** {@code month|user}: the summary and the reset of one user's month. */
    public static String userMonth(YearMonth month, UUID user) {
        return month(month) + SEPARATOR + user;
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

    // Keys are built for every event: padded by hand, as String.format and the month formatter
    // showed up in the profile. Same text as the "uuuu-MM" pattern.

    private static String month(YearMonth month) {
        if (month.getYear() < 1000 || month.getYear() > 9999) {
            return month.format(MONTH);
        }
        StringBuilder out = new StringBuilder(7).append(month.getYear()).append('-');
        return padded(out, month.getMonthValue(), 2).toString();
    }

    private static StringBuilder padded(StringBuilder out, long value, int width) {
        String digits = Long.toString(value);
        for (int i = digits.length(); i < width; i++) {
            out.append('0');
        }
        return out.append(digits);
    }
}
