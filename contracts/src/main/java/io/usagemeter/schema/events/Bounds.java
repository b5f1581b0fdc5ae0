package io.usagemeter.schema.events;

import java.util.List;

/**
 * The largest value of every field the pipeline accepts, and the text rule every string shares.
 * Every entry (HTTP ingest, {@code UsageClient}, the aggregator's source, referrals, admin routes
 * and verbs) checks with these, so a value refused at one entry is refused at all of them.
 *
 * <p><b>Why these numbers.</b> The sums the pipeline keeps are per user and month (the monthly
 * summary) and, in reports built on {@code monthly_usage_summary}, per user and year. The bounds
 * are chosen so that {@value #SUMMED_MONTHS} months of {@value #MAX_EVENTS_PER_USER_MONTH} events
 * each, every one at the field's maximum, still fit a signed 64-bit integer (PostgreSQL's
 * {@code bigint}, Java's {@code long}). 10^8 events a month is 400 times the largest plan's
 * allowance (250,000 units) at one unit a call, about 37 events a second from one user every
 * second of a month. A user beyond that does not wrap either: every sum saturates
 * ({@link Saturating}), so {@code used} only ever stops growing at {@link Long#MAX_VALUE}.
 *
 * <p><b>Text.</b> A string has its column's length, counted in characters (code points, as
 * PostgreSQL's {@code char_length}), and no control character (U+0000 to U+001F, U+007F to U+009F:
 * PostgreSQL refuses NUL in {@code text}, and the others break logs and CSV) nor an unpaired
 * surrogate (no valid UTF-8 encodes it).
 */
public final class Bounds {

    /** Months one sum may cover (a year of one user's usage), see the class comment. */
    public static final int SUMMED_MONTHS = 12;
    /** Events of one user in one month the sums are sized for, see the class comment. */
    public static final long MAX_EVENTS_PER_USER_MONTH = 100_000_000L;

    /** {@code units} of one event: four times the largest plan's monthly allowance. */
    public static final long MAX_UNITS = 1_000_000L;
    /** {@code tokens} of one event: fifty times the largest context window of the proxied providers (2 M). */
    public static final long MAX_TOKENS = 100_000_000L;
    /** {@code request_bytes} and {@code response_bytes} of one event: 4 GiB, above the providers' 2 GB upload limits. */
    public static final long MAX_BYTES = 4L * 1024 * 1024 * 1024;
    /** {@code response_time_ms} of one event: 24 hours. */
    public static final long MAX_RESPONSE_TIME_MS = 24L * 60 * 60 * 1000;

    /** {@code amount} of one admin credit grant. */
    public static final long MAX_CREDITS_PER_COMMAND = 1_000_000_000L;
    /** A user's bonus credits in total (grants and referrals); more saturates here. */
    public static final long MAX_BONUS_CREDITS = 1_000_000_000_000_000L;
    /**
     * Monthly units of a plan ({@code subscription_limits.monthly_units}): with the +200 % referral
     * multiplier and {@link #MAX_BONUS_CREDITS} the effective limit stays far below {@code Long.MAX_VALUE}.
     */
    public static final long MAX_PLAN_UNITS = 1_000_000_000_000L;

    /** {@code applied_commands.command_id}. */
    public static final int COMMAND_ID_MAX_LENGTH = 200;
    /** {@code user_referrals.referral_id} (stored as the command id {@code referral:<id>}, within 200). */
    public static final int REFERRAL_ID_MAX_LENGTH = 128;
    /** {@code subscription_limits.plan}: {@code ^[a-z][a-z0-9_-]{0,31}$}. */
    public static final int PLAN_MAX_LENGTH = 32;
    /** {@code api_usage.method}. */
    public static final int METHOD_MAX_LENGTH = 32;

    private Bounds() {
    }

    /**
     * Adds a violation of {@code field} unless {@code value} has {@code min} to {@code max} characters
     * and passes {@link #textProblem}.
     */
    public static void checkText(String field, String value, int min, int max, List<Violation> violations) {
        int length = value.codePointCount(0, value.length());
        if (length < min || length > max) {
            violations.add(new Violation(field, "must be " + min + " to " + max + " characters, was " + length));
            return;
        }
        String problem = textProblem(value);
        if (problem != null) {
            violations.add(new Violation(field, problem));
        }
    }

    /** Adds a violation of {@code field} unless {@code min <= value <= max}; the message names both bounds. */
    public static void checkRange(String field, long value, long min, long max, List<Violation> violations) {
        if (value < min || value > max) {
            violations.add(new Violation(field, "must be within " + min + " and " + max + ", was " + value));
        }
    }

    /**
     * Why {@code text} cannot be stored ("contains the control character U+0000 at character 4"),
     * or {@code null} when it can. A loop over chars, not a regex: this runs on every event.
     */
    public static String textProblem(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x20 || (c >= 0x7F && c <= 0x9F)) {
                return "must not contain control characters, found U+" + String.format("%04X", (int) c)
                        + " at character " + (text.codePointCount(0, i) + 1);
            }
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return "must be valid Unicode, found an unpaired surrogate U+" + String.format("%04X", (int) c)
                        + " at character " + (text.codePointCount(0, i) + 1);
            }
        }
        return null;
    }
}
