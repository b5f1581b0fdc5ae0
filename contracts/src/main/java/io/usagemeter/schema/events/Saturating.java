package io.usagemeter.schema.events;

/**
 * Arithmetic on totals that stops at the ends of {@code long} instead of wrapping: a total past
 * {@link Long#MAX_VALUE} stays there, so usage never turns negative and a user past the limit stays
 * past it. The {@link Bounds} keep real sums far from the ends; this is what holds when a record
 * from outside them (older data, a record produced straight to Kafka) gets through.
 */
public final class Saturating {

    private Saturating() {
    }

    public static long add(long a, long b) {
        long sum = a + b;
        // Overflow iff both operands have the sign the sum lacks.
        if (((a ^ sum) & (b ^ sum)) < 0) {
            return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        return sum;
    }

    public static long subtract(long a, long b) {
        long difference = a - b;
        // Overflow iff the operands differ in sign and the result has the sign of b.
        if (((a ^ b) & (a ^ difference)) < 0) {
            return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;
        }
        return difference;
    }

    public static long multiply(long a, long b) {
        long high = Math.multiplyHigh(a, b);
        long low = a * b;
        if ((high == 0 && low >= 0) || (high == -1 && low < 0)) {
            return low;
        }
        return (a < 0) == (b < 0) ? Long.MAX_VALUE : Long.MIN_VALUE;
    }

    /** {@code a + b}, but never above {@code cap} (for totals with a bound of their own). */
    public static long addAtMost(long a, long b, long cap) {
        return Math.min(add(a, b), cap);
    }
}
