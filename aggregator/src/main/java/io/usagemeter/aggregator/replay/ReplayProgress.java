package io.usagemeter.aggregator.replay;

import java.time.Duration;

/**
 * How far a replay is: input records processed of those it must read, the rate since it started,
 * and the time left at that rate ({@code null} while unknown).
 */
public record ReplayProgress(String phase, long recordsRead, long recordsTotal, double recordsPerSecond, Duration eta) {

    public double fraction() {
        return recordsTotal == 0 ? 1.0 : Math.min(1.0, (double) recordsRead / recordsTotal);
    }

    /** {@code rebuilding 1,234,567 / 2,000,000 records (61.7 %) 152,300 rec/s, ETA 5 s}. */
    public String describe() {
        String eta = this.eta == null ? "ETA --" : "ETA " + this.eta.toSeconds() + " s";
        return String.format(java.util.Locale.ROOT, "%s %,d / %,d records (%.1f %%) %,.0f rec/s, %s",
                phase, recordsRead, recordsTotal, 100 * fraction(), recordsPerSecond, eta);
    }
}
