package io.usagemeter.cli.load;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * What a load run saw: how each request ended by kind (first attempts and, with {@code --retry},
 * retries counted apart), events accepted, rates, and latency measured from each request's intended
 * send time, so that a slow server or a generator short of connections shows in the percentiles
 * instead of silently lowering the offered rate (coordinated omission).
 *
 * @param offeredEventsPerSecond the open loop's rate; 0 in a closed loop
 * @param closedLoop each connection sent its next request when its answer was read (a capacity measurement)
 * @param firstAttempts how the scheduled requests were answered the first time
 * @param retries how the retried sends were answered ({@code --retry}; empty without it)
 * @param acceptedRequests requests finally answered 202, after retries or not
 * @param gaveUp requests still not accepted when their retries ran out
 * @param latency from intended send to the first answer of every request that got one
 * @param acceptedLatency from the first intended send to the final 202, retries included
 * @param maxLagNanos how far behind its schedule a request left at worst (no free connection, or a busy generator)
 * @param lateSends requests that left more than a millisecond behind schedule
 * @param connectionsOpened connections opened during the run (at most {@code connections} at once)
 * @param generatorCpuNanos CPU time of the generator's thread during the run, -1 where the JVM cannot tell: far below
 *     the run's duration, the generator had time to spare and the server set the pace
 * @param acceptedEventIds which events were answered 202, for a reconciliation afterwards
 */
public record LoadReport(long requests, int batch, int connections, double seconds, double offeredEventsPerSecond,
                         boolean closedLoop, Tally firstAttempts, Tally retries, long acceptedRequests, long gaveUp,
                         Histogram latency, Histogram acceptedLatency, long maxLagNanos, long lateSends,
                         long connectionsOpened, long generatorCpuNanos, AcceptedEvents acceptedEventIds) {

    /** The ids of the events of the requests answered 202: {@code prefix} and the event number. */
    public record AcceptedEvents(String prefix, int batch, BitSet requests) {
        public AcceptedEvents {
            requests = (BitSet) requests.clone();
        }

        public Set<String> ids() {
            Set<String> ids = new HashSet<>();
            requests.stream().forEach(r -> {
                for (int i = 0; i < batch; i++) {
                    ids.add(prefix + ((long) r * batch + i));
                }
            });
            return ids;
        }
    }

    /** Counts by {@link Outcome}, the exact statuses behind the kinds that group several, and the first I/O error. */
    public static final class Tally {
        private final Map<Outcome, Long> counts = new EnumMap<>(Outcome.class);
        private final Map<Integer, Long> statuses = new TreeMap<>();
        private String firstError;

        void add(Outcome outcome, int status, String error) {
            counts.merge(outcome, 1L, Long::sum);
            if (outcome.hasStatusDetail()) {
                statuses.merge(status, 1L, Long::sum);
            }
            if (error != null && firstError == null) {
                firstError = error;
            }
        }

        public long count(Outcome outcome) {
            return counts.getOrDefault(outcome, 0L);
        }

        public long total() {
            return counts.values().stream().mapToLong(Long::longValue).sum();
        }

        public Map<Outcome, Long> counts() {
            return Collections.unmodifiableMap(counts);
        }

        /** "202 1,000 · 4xx 3 (400=2, 401=1) · connect refused 5", kinds in {@link Outcome} order. */
        public String describe() {
            if (counts.isEmpty()) {
                return "none";
            }
            List<String> parts = new ArrayList<>();
            counts.forEach((outcome, n) -> {
                StringBuilder part = new StringBuilder(outcome.label()).append(' ').append(String.format(Locale.ROOT, "%,d", n));
                if (outcome.hasStatusDetail()) {
                    List<String> codes = new ArrayList<>();
                    statuses.forEach((status, c) -> {
                        if (Outcome.ofStatus(status, false) == outcome) {
                            codes.add(status + "=" + c);
                        }
                    });
                    part.append(" (").append(String.join(", ", codes)).append(')');
                }
                parts.add(part.toString());
            });
            return String.join(" · ", parts);
        }

        /** The first I/O failure's message, for the kinds that have no status. */
        public String firstError() {
            return firstError;
        }
    }

    public long acceptedEvents() {
        return acceptedRequests * batch;
    }

    public double acceptedEventsPerSecond() {
        return acceptedEvents() / seconds;
    }

    /** The generator thread's CPU time as a share of the run's duration (1.0 = one core all the time); NaN if unknown. */
    public double generatorCpuShare() {
        return generatorCpuNanos < 0 ? Double.NaN : generatorCpuNanos / 1e9 / seconds;
    }

    /** Every request ended in a 202. */
    public boolean allAccepted() {
        return acceptedRequests == requests;
    }

    /** A few lines for people. */
    public String summary() {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "requests %,d in %.1f s over at most %d connections (%,d opened); "
                        + "events accepted %,d (%.0f/s %s)%n",
                requests, seconds, connections, connectionsOpened, acceptedEvents(), acceptedEventsPerSecond(),
                closedLoop ? "in a closed loop" : String.format(Locale.ROOT, "of %.0f/s offered", offeredEventsPerSecond)));
        s.append("answers: ").append(firstAttempts.describe()).append(System.lineSeparator());
        if (retries.total() > 0 || gaveUp > 0) {
            s.append(String.format(Locale.ROOT, "retries: %,d sent, answered %s; gave up on %,d requests%n",
                    retries.total(), retries.describe(), gaveUp));
        }
        String error = firstAttempts.firstError() != null ? firstAttempts.firstError() : retries.firstError();
        if (error != null) {
            s.append("first I/O failure: ").append(error).append(System.lineSeparator());
        }
        s.append("latency from intended send (ms), all answers: ").append(percentiles(latency)).append(System.lineSeparator());
        s.append("latency from intended send (ms), 202 answers").append(retries.total() > 0 ? " incl. retries" : "")
                .append(": ").append(percentiles(acceptedLatency)).append(System.lineSeparator());
        if (closedLoop) {
            s.append("closed loop: each connection sent its next request when its answer was read");
        } else {
            s.append(String.format(Locale.ROOT, "behind schedule: max %.2f ms; %,d requests left more than 1 ms late "
                    + "(no free connection, or the generator was busy)", maxLagNanos / 1e6, lateSends));
        }
        if (generatorCpuNanos >= 0) {
            s.append(System.lineSeparator()).append(String.format(Locale.ROOT,
                    "generator: %.2f s of CPU in %.1f s (%.0f%% of one core)", generatorCpuNanos / 1e9, seconds,
                    100 * generatorCpuShare()));
        }
        return s.toString();
    }

    private static String percentiles(Histogram h) {
        if (h.getTotalCount() == 0) {
            return "none";
        }
        return String.format(Locale.ROOT, "p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f",
                h.getValueAtPercentile(50) / 1e6, h.getValueAtPercentile(90) / 1e6, h.getValueAtPercentile(99) / 1e6,
                h.getValueAtPercentile(99.9) / 1e6, h.getMaxValue() / 1e6);
    }
}
