package io.usagemeter.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;

/**
 * CPU time of one Kafka Streams application's stream threads (not its producer threads), remembered by
 * thread id so the total survives a thread's end. Sample it while the application runs.
 */
final class StreamThreadCpu {

    private final String applicationId;
    private final Map<Long, Long> lastSeen = new HashMap<>();

    StreamThreadCpu(String applicationId) {
        this.applicationId = applicationId;
    }

    /** Samples the threads now; returns the CPU seconds seen so far. */
    double seconds() {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().startsWith(applicationId)
                    && info.getThreadName().contains("-StreamThread-") && !info.getThreadName().endsWith("-producer")) {
                long cpu = threads.getThreadCpuTime(info.getThreadId());
                if (cpu > 0) {
                    lastSeen.put(info.getThreadId(), cpu);
                }
            }
        }
        return lastSeen.values().stream().mapToLong(Long::longValue).sum() / 1e9;
    }
}
