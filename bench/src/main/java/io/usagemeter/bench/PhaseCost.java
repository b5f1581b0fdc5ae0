package io.usagemeter.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What one phase cost: CPU-seconds of this JVM (broker, services and load generators all run in it) and
 * of the embedded PostgreSQL processes, and this JVM's peak resident set during the phase.
 *
 * <p>The peak is reset at the start of a phase by writing {@code 5} to {@code /proc/self/clear_refs}
 * and read from {@code VmHWM} at its end. PostgreSQL's CPU is the postmaster's own time plus the time of
 * its children, live ones read directly and exited ones through the postmaster's {@code cutime}.
 * Outside Linux every figure is absent rather than wrong.
 */
final class PhaseCost {

    /** What a phase cost; negative values mean "not measured". */
    record Cost(double jvmCpuSeconds, double postgresCpuSeconds, long peakRssBytes) {
        double cpuSecondsPerMillion(long events) {
            if (events <= 0 || jvmCpuSeconds < 0) {
                return -1;
            }
            return (jvmCpuSeconds + Math.max(0, postgresCpuSeconds)) * 1e6 / events;
        }
    }

    private static final long CLOCK_TICKS_PER_SECOND = 100;

    private final long postmasterPid;
    private long jvmCpuAtStart;
    private double postgresCpuAtStart;

    /** @param postmasterPid the embedded PostgreSQL's postmaster, or -1 if unknown */
    PhaseCost(long postmasterPid) {
        this.postmasterPid = postmasterPid;
    }

    void begin() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | RuntimeException e) {
            // Not Linux, or not allowed: the peak then covers the process's whole life so far.
        }
        jvmCpuAtStart = jvmCpuNanos();
        postgresCpuAtStart = postgresCpuSeconds();
    }

    Cost end() {
        long jvm = jvmCpuNanos();
        double pg = postgresCpuSeconds();
        return new Cost(jvm < 0 ? -1 : (jvm - jvmCpuAtStart) / 1e9,
                pg < 0 ? -1 : pg - postgresCpuAtStart, peakRssBytes());
    }

    private static long jvmCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return -1;
    }

    private static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private double postgresCpuSeconds() {
        if (postmasterPid <= 0) {
            return -1;
        }
        long[] own = stat(postmasterPid, true);
        if (own == null) {
            return -1;
        }
        long ticks = own[0];
        for (long child : children(postmasterPid)) {
            long[] c = stat(child, false);
            if (c != null) {
                ticks += c[0];
            }
        }
        return (double) ticks / CLOCK_TICKS_PER_SECOND;
    }

    private static List<Long> children(long pid) {
        List<Long> children = new ArrayList<>();
        try {
            String text = Files.readString(Path.of("/proc/" + pid + "/task/" + pid + "/children")).strip();
            if (!text.isEmpty()) {
                for (String c : text.split("\\s+")) {
                    children.add(Long.parseLong(c));
                }
            }
        } catch (IOException | RuntimeException e) {
            // No children file (older kernels): count the postmaster alone.
        }
        return children;
    }

    /** utime + stime (+ cutime + cstime when {@code withReaped}) of {@code pid}, in clock ticks. */
    private static long[] stat(long pid, boolean withReaped) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            // Fields after the command name (which may contain spaces) start at ") ".
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            // f[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
            long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
            if (withReaped) {
                ticks += Long.parseLong(f[13]) + Long.parseLong(f[14]);
            }
            return new long[] {ticks};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
