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
 * stores by one range); in the dedupe memory's store the chunks of the events on the heap sort by sequence,
 * and the blocks of a spilled run by user, then identity hash (hexadecimal, so text order is numeric order).
 */
public final class StateKeys {

    private static final DateTimeFormatter MONTH = DateTimeFormatter.ofPattern("uuuu-MM", Locale.ROOT);
    private static final char SEPARATOR = '|';
    /** Sorts after every digit and after the separator: closes a range over a prefix. */
    private static final String END = "~";
    private static final String CHUNK = "c|";
    private static final String ACTIVE_CHUNK = "a|";
    private static final String RUN = "r|";
    private static final String BLOCK = "b|";
    private static final String HASHES = "h|";
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private StateKeys() {
    }

    /** {@code month|user}: the summary and the reset of one user's month. */
    public static String userMonth(YearMonth month, UUID user) {
        return month(month) + SEPARATOR + user;
    }

    /** {@code a|sequence}: one chunk of the events the dedupe memory holds on the heap, written at a commit. */
    public static String activeChunk(long sequence) {
        return padded(new StringBuilder(21).append(ACTIVE_CHUNK), sequence, 19).toString();
    }

    public static String activeChunksStart() {
        return ACTIVE_CHUNK;
    }

    public static String activeChunksEnd() {
        return ACTIVE_CHUNK + END;
    }

    public static long sequenceOfActiveChunk(String key) {
        return Long.parseLong(key.substring(ACTIVE_CHUNK.length()));
    }

    /** {@code r|run}: what the dedupe memory needs to know of a run of events spilled to disk. */
    public static String run(long run) {
        return padded(new StringBuilder(21).append(RUN), run, 19).toString();
    }

    public static String runsStart() {
        return RUN;
    }

    public static String runsEnd() {
        return RUN + END;
    }

    public static long runOf(String runKey) {
        return Long.parseLong(runKey.substring(RUN.length()));
    }

    /**
     * {@code b|run|user identity-hash|index}: a block of a spilled run, named by the user and identity hash of its
     * first event (both unsigned, in hexadecimal).
     */
    public static String block(long run, long userHigh, long userLow, long identityHash, int index) {
        StringBuilder out = blockPrefix(run, userHigh, userLow);
        hex(out, identityHash).append(SEPARATOR);
        return padded(out, index, 9).toString();
    }

    /** The first key of every run's blocks. */
    public static String allBlocksStart() {
        return BLOCK;
    }

    public static String allBlocksEnd() {
        return BLOCK + END;
    }

    /** The start of the keys of {@code run}'s blocks. */
    public static String blocksOf(long run) {
        return padded(new StringBuilder(22).append(BLOCK), run, 19).append(SEPARATOR).toString();
    }

    /** What the blocks starting at {@code user} with {@code identityHash} have in common (their key without the index). */
    public static String blockStart(long run, long userHigh, long userLow, long identityHash) {
        return hex(blockPrefix(run, userHigh, userLow), identityHash).toString();
    }

    /** What the blocks starting at {@code user} have in common. */
    public static String blockStartOfUser(long run, long userHigh, long userLow) {
        return blockPrefix(run, userHigh, userLow).toString();
    }

    /** A key after every key that starts with {@code prefix}. */
    public static String after(String prefix) {
        return prefix + END;
    }

    /** {@code h|run|part}: identity hashes of a spilled run's events, from which its filters are rebuilt. */
    public static String hashes(long run, int part) {
        StringBuilder out = padded(new StringBuilder(31).append(HASHES), run, 19).append(SEPARATOR);
        return padded(out, part, 9).toString();
    }

    public static String hashesOf(long run) {
        return padded(new StringBuilder(22).append(HASHES), run, 19).append(SEPARATOR).toString();
    }

    private static StringBuilder blockPrefix(long run, long userHigh, long userLow) {
        StringBuilder out = padded(new StringBuilder(80).append(BLOCK), run, 19).append(SEPARATOR);
        return hex(hex(out, userHigh), userLow);
    }

    private static StringBuilder hex(StringBuilder out, long value) {
        for (int shift = 60; shift >= 0; shift -= 4) {
            out.append(HEX[(int) (value >>> shift) & 0xf]);
        }
        return out;
    }

    /** {@code c|segment|sequence}: one chunk of the events remembered in a segment, as versions before spilled runs wrote them. */
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
