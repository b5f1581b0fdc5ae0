package io.usagemeter.bench;

import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.HdrHistogram.Histogram;

/**
 * The load generator of {@link LimitCheckProcessesBench}, run as a JVM of its own so that it does not share
 * the server's JVM (its heap, GC, safepoints, JIT) — only the machine's cores. One thread, one selector,
 * keep-alive HTTP/1.1 connections, answers framed by {@code Content-Length}:
 * <ul>
 *   <li>{@code closed URL SECONDS WARMUP CONNECTIONS}: each connection sends its next GET when the previous
 *       answer is read (the maximum rate);</li>
 *   <li>{@code open URL SECONDS WARMUP CONNECTIONS RATE}: GETs are due every {@code 1/RATE} s whatever the
 *       answers do; a due request waits for an idle connection, and its latency counts from when it was due
 *       (coordinated omission corrected).</li>
 * </ul>
 * A URL ending in {@code /} gets a random user of {@link UsageMix} appended per request. The API key comes from
 * the environment ({@code BENCH_API_KEY}). Prints one line {@code measuring} when the measured window starts and
 * one {@code result rate=… p50=… p99=… p999=… failures=… cpu_us=… count=… gc_ms=… runq_ms=…} (latencies in µs, CPU
 * of this JVM per request, this JVM's collection time and its sending thread's run-queue wait in the measured window) at its end. With {@code -Dtimeline=FILE} it
 * also writes, per 100 ms of due time in the measured window, the worst latency and the requests slower than 5 ms,
 * stamped with this JVM's wall clock (epoch ms), to line up with a recording of the server.
 */
public final class HttpLoadProcess {

    /** The timeline's resolution (due time) and what counts as slow in it. */
    private static final long TICK_NANOS = 100_000_000L;
    private static final long SLOW_NANOS = 5_000_000L;

    private HttpLoadProcess() {
    }

    private static final class Connection {
        final SocketChannel channel;
        final ByteBuffer in = ByteBuffer.allocate(16 * 1024);
        long dueAt;
        boolean busy;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        URI url = URI.create(args[1]);
        double seconds = Double.parseDouble(args[2]);
        double warmup = Double.parseDouble(args[3]);
        int connections = Integer.parseInt(args[4]);
        double rate = mode.equals("open") ? Double.parseDouble(args[5]) : 0;
        String apiKey = System.getenv("BENCH_API_KEY");
        UsageMix mix = new UsageMix();
        byte[] tail = (" HTTP/1.1\r\nHost: " + url.getHost() + ":" + url.getPort()
                + (apiKey == null ? "" : "\r\nAuthorization: Bearer " + apiKey) + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        boolean perUser = url.getPath().endsWith("/");
        Histogram latency = new Histogram(60_000_000_000L, 3);
        int failures = 0;
        long count = 0;
        List<Connection> all = new ArrayList<>();
        ArrayDeque<Connection> idle = new ArrayDeque<>();
        // The first call into the management API loads it (70-130 ms on a busy 2-core machine): made when the measured
        // window opens, this one thread's stall would count as the server's latency.
        processCpuNanos();
        gcMillis();
        runQueueNanos();
        long startWallMillis = System.currentTimeMillis();
        long start = System.nanoTime();
        long measureFrom = start + (long) (warmup * 1e9);
        long until = measureFrom + (long) (seconds * 1e9);
        long intervalNanos = rate > 0 ? (long) (1e9 / rate) : 0;
        long nextDue = start;
        ArrayDeque<Long> due = new ArrayDeque<>();
        boolean measuring = false;
        long cpuStart = 0;
        long gcStart = 0;
        long runQueueStart = 0;
        String timeline = System.getProperty("timeline", "");
        long[] worstByTick = new long[(int) Math.ceil(seconds * 1e9 / TICK_NANOS) + 1];
        int[] slowByTick = new int[worstByTick.length];
        try (Selector selector = Selector.open()) {
            for (int i = 0; i < connections; i++) {
                SocketChannel ch = SocketChannel.open(new InetSocketAddress(url.getHost(), url.getPort()));
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ch.configureBlocking(false);
                Connection c = new Connection(ch);
                ch.register(selector, SelectionKey.OP_READ, c);
                all.add(c);
                idle.add(c);
            }
            int busy = 0;
            while (true) {
                long now = System.nanoTime();
                if (!measuring && now >= measureFrom) {
                    measuring = true;
                    cpuStart = processCpuNanos();
                    gcStart = gcMillis();
                    runQueueStart = runQueueNanos();
                    System.out.println("measuring");
                    System.out.flush();
                }
                boolean sending = now < until;
                if (sending) {
                    if (rate > 0) {
                        while (nextDue <= now) {
                            due.add(nextDue);
                            nextDue += intervalNanos;
                        }
                    } else {
                        for (int i = idle.size(); i > 0; i--) {
                            due.add(now);
                        }
                    }
                    while (!due.isEmpty() && !idle.isEmpty()) {
                        Connection c = idle.poll();
                        send(c, url, perUser, mix, tail, due.poll());
                        busy++;
                    }
                } else if (busy == 0) {
                    break;
                }
                long waitNanos = rate > 0 && sending ? Math.max(0, nextDue - System.nanoTime()) : 1_000_000_000L;
                if (waitNanos < 50_000) {
                    selector.selectNow();
                } else {
                    selector.select(Math.max(1, waitNanos / 1_000_000));
                }
                for (SelectionKey key : selector.selectedKeys()) {
                    Connection c = (Connection) key.attachment();
                    if (c.channel.read(c.in) < 0) {
                        throw new IOException("connection closed by the server");
                    }
                    int status;
                    while (c.busy && (status = complete(c.in)) != 0) {
                        long done = System.nanoTime();
                        c.busy = false;
                        busy--;
                        if (c.dueAt >= measureFrom && c.dueAt < until) {
                            latency.recordValue(done - c.dueAt);
                            int tick = (int) ((c.dueAt - measureFrom) / TICK_NANOS);
                            worstByTick[tick] = Math.max(worstByTick[tick], done - c.dueAt);
                            if (done - c.dueAt > SLOW_NANOS) {
                                slowByTick[tick]++;
                            }
                            count++;
                            if (status != 200) {
                                failures++;
                            }
                        }
                        idle.add(c);
                    }
                }
                selector.selectedKeys().clear();
            }
        } finally {
            for (Connection c : all) {
                c.channel.close();
            }
        }
        long cpu = processCpuNanos() - cpuStart;
        long gc = gcMillis() - gcStart;
        long runQueue = runQueueNanos() - runQueueStart;
        if (!timeline.isEmpty()) {
            long measureFromWallMillis = startWallMillis + (measureFrom - start) / 1_000_000;
            StringBuilder lines = new StringBuilder("# due_at_epoch_ms worst_latency_us requests_over_5ms\n");
            for (int i = 0; i < worstByTick.length; i++) {
                lines.append(measureFromWallMillis + i * TICK_NANOS / 1_000_000).append(' ')
                        .append(worstByTick[i] / 1000).append(' ').append(slowByTick[i]).append('\n');
            }
            Files.writeString(Path.of(timeline), lines);
        }
        System.out.printf(Locale.ROOT, "result rate=%.1f p50=%d p99=%d p999=%d failures=%d cpu_us=%.2f count=%d gc_ms=%d "
                        + "runq_ms=%.1f%n",
                count / seconds, latency.getValueAtPercentile(50) / 1000, latency.getValueAtPercentile(99) / 1000,
                latency.getValueAtPercentile(99.9) / 1000, failures, cpu / 1e3 / Math.max(count, 1), count, gc,
                runQueue / 1e6);
        System.out.flush();
    }

    private static void send(Connection c, URI url, boolean perUser, UsageMix mix, byte[] tail, long dueAt)
            throws IOException {
        String path = perUser ? url.getPath() + mix.user(ThreadLocalRandom.current().nextInt(UsageMix.USERS))
                : url.getPath();
        byte[] line = ("GET " + path).getBytes(StandardCharsets.US_ASCII);
        ByteBuffer out = ByteBuffer.allocate(line.length + tail.length).put(line).put(tail).flip();
        c.dueAt = dueAt;
        c.busy = true;
        while (out.hasRemaining()) {
            c.channel.write(out);
        }
    }

    /** The status once {@code in} holds a whole answer (which is then removed from it), else 0. */
    private static int complete(ByteBuffer in) {
        byte[] b = in.array();
        int end = in.position();
        int headerEnd = -1;
        for (int i = 0; i + 3 < end; i++) {
            if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
                headerEnd = i;
                break;
            }
        }
        if (headerEnd < 0) {
            return 0;
        }
        String head = new String(b, 0, headerEnd, StandardCharsets.ISO_8859_1);
        int length = LimitCheckLoad.SocketConnection.contentLength(head);
        int total = headerEnd + 4 + length;
        if (end < total) {
            return 0;
        }
        System.arraycopy(b, total, b, 0, end - total);
        in.position(end - total);
        return Integer.parseInt(head.substring(9, 12));
    }

    /**
     * How long this (the one sending and reading) thread has waited runnable for a core, from the kernel's
     * {@code /proc/thread-self/schedstat}; 0 where there is none. Such a wait delays sends and reads alike.
     */
    private static long runQueueNanos() {
        try {
            return Long.parseLong(Files.readString(Path.of("/proc/thread-self/schedstat")).trim().split(" ")[1]);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** Collections' accumulated time in this JVM: its own pauses count in the latencies it records. */
    private static long gcMillis() {
        long millis = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            millis += Math.max(0, gc.getCollectionTime());
        }
        return millis;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
