package io.usagemeter.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.HdrHistogram.Histogram;

/**
 * Closed-loop load of {@code GET /v1/limits/{user}}: {@code connections} threads, each with one keep-alive
 * HTTP/1.1 connection, send the next check as soon as the previous answer is read; latency per check.
 *
 * <p>Two clients, because the load runs in the same JVM as the enforcer and competes with it for the two
 * cores: {@link Client#JDK} is {@code java.net.http.HttpClient} (what apps such as {@code LimitClient} use;
 * its selector thread, futures and header maps cost more CPU per request than the server's whole request
 * path), {@link Client#SOCKET} writes the request bytes on a blocking socket and reads the answer by its
 * {@code Content-Length}, so the figure shows what the server can do rather than what the client costs;
 * {@link Client#NIO} does the same on one thread that multiplexes every connection with a selector (as {@code wrk}
 * does), which also takes {@code connections} runnable threads off the two cores. All send the same request line
 * and {@code Host} header and count non-200 answers as failures.
 */
final class LimitCheckLoad {

    enum Client { JDK, SOCKET, NIO }

    /**
     * @param clientCpuNanos CPU time (user and system) of the load threads
     * @param processCpuNanos CPU time of the whole JVM meanwhile (server, client and everything else in it)
     */
    record Result(Histogram latency, int failures, double seconds, long clientCpuNanos, long processCpuNanos,
                  long jettyCpuNanos) {
        double rate() {
            return latency.getTotalCount() / seconds;
        }

        /** CPU µs per check spent outside the load threads: the server's cost (and the JVM's background). */
        double serverCpuMicrosPerCheck() {
            return (processCpuNanos - clientCpuNanos) / 1e3 / latency.getTotalCount();
        }

        /** CPU µs per check of Jetty's request threads alone: the request path without GC and the JVM's background. */
        double jettyCpuMicrosPerCheck() {
            return jettyCpuNanos / 1e3 / latency.getTotalCount();
        }

        double clientCpuMicrosPerCheck() {
            return clientCpuNanos / 1e3 / latency.getTotalCount();
        }
    }

    static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /** Javalin names the threads of Jetty's pool so. */
    private static final String JETTY_THREADS = "JettyServerThreadPool-";
    /** {@code java.net.http.HttpClient}'s selector and worker threads. */
    private static final String JDK_CLIENT_THREADS = "HttpClient-";

    private LimitCheckLoad() {
    }

    /**
     * Runs for {@code seconds}; {@code user} gives the i-th user to ask for (picked at random per check); every
     * check carries {@code apiKey} (scope {@code limits:read}).
     */
    static Result run(Client client, URI limits, String apiKey, int connections, double seconds, int users,
                      IntFunction<UUID> user) throws Exception {
        long start = System.nanoTime();
        long until = start + (long) (seconds * 1e9);
        long processCpuStart = processCpuNanos();
        Map<Long, Long> jdkClientCpuStart = threadsCpuNanos(JDK_CLIENT_THREADS);
        Map<Long, Long> jettyCpuStart = threadsCpuNanos(JETTY_THREADS);
        if (client == Client.NIO) {
            NioLoad.Measured m = NioLoad.run(limits, apiKey, connections, until, users, user);
            double elapsed = (System.nanoTime() - start) / 1e9;
            return new Result(m.latency(), m.failures(), elapsed, m.clientCpuNanos(), processCpuNanos() - processCpuStart,
                    cpuSince(JETTY_THREADS, jettyCpuStart));
        }
        AtomicInteger failures = new AtomicInteger();
        AtomicLong clientCpu = new AtomicLong();
        HttpClient jdk = client == Client.JDK ? HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build() : null;
        ExecutorService pool = Executors.newFixedThreadPool(connections);
        List<Future<Histogram>> results = new ArrayList<>();
        for (int t = 0; t < connections; t++) {
            results.add(pool.submit(() -> {
                Histogram latency = new Histogram(60_000_000_000L, 3);
                long cpuStart = THREADS.getCurrentThreadCpuTime();
                try (SocketConnection socket = client == Client.SOCKET ? new SocketConnection(limits, apiKey) : null) {
                    while (System.nanoTime() < until) {
                        UUID u = user.apply(ThreadLocalRandom.current().nextInt(users));
                        long sent = System.nanoTime();
                        int status = socket != null ? socket.get(limits.getPath() + u)
                                : jdk.send(HttpRequest.newBuilder(limits.resolve(u.toString()))
                                        .header("Authorization", "Bearer " + apiKey).GET().build(),
                                        HttpResponse.BodyHandlers.ofByteArray()).statusCode();
                        latency.recordValue(System.nanoTime() - sent);
                        if (status != 200) {
                            failures.incrementAndGet();
                        }
                    }
                }
                clientCpu.addAndGet(THREADS.getCurrentThreadCpuTime() - cpuStart);
                return latency;
            }));
        }
        Histogram all = new Histogram(60_000_000_000L, 3);
        for (Future<Histogram> f : results) {
            all.add(f.get());
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        long processCpu = processCpuNanos() - processCpuStart;
        // The JDK client also works on its own selector and worker threads.
        long jdkThreadsCpu = cpuSince(JDK_CLIENT_THREADS, jdkClientCpuStart);
        long jettyCpu = cpuSince(JETTY_THREADS, jettyCpuStart);
        pool.shutdown();
        return new Result(all, failures.get(), elapsed, clientCpu.get() + jdkThreadsCpu, processCpu, jettyCpu);
    }

    /** CPU time so far of each live thread whose name starts with {@code prefix}, by thread id. */
    static Map<Long, Long> threadsCpuNanos(String prefix) {
        Map<Long, Long> cpu = new HashMap<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith(prefix)) {
                cpu.put(t.getId(), Math.max(0, THREADS.getThreadCpuTime(t.getId())));
            }
        }
        return cpu;
    }

    /** CPU those threads used since {@code before}, counting threads started since; a thread that ended is lost. */
    static long cpuSince(String prefix, Map<Long, Long> before) {
        long total = 0;
        for (var now : threadsCpuNanos(prefix).entrySet()) {
            total += Math.max(0, now.getValue() - before.getOrDefault(now.getKey(), 0L));
        }
        return total;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** One keep-alive HTTP/1.1 connection that sends GETs and reads answers framed by Content-Length. */
    static final class SocketConnection implements AutoCloseable {
        private final Socket socket;
        private final OutputStream out;
        private final InputStream in;
        private final byte[] hostHeader;
        private final byte[] buffer = new byte[16 * 1024];
        private int start;
        private int end;

        SocketConnection(URI base, String apiKey) throws IOException {
            socket = new Socket();
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5_000);
            socket.setSoTimeout(30_000);
            out = socket.getOutputStream();
            in = socket.getInputStream();
            hostHeader = (" HTTP/1.1\r\nHost: " + base.getHost() + ":" + base.getPort()
                    + "\r\nAuthorization: Bearer " + apiKey + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII);
        }

        /** Sends {@code GET path}, reads the whole answer, returns its status. */
        int get(String path) throws IOException {
            byte[] line = ("GET " + path).getBytes(StandardCharsets.US_ASCII);
            byte[] request = new byte[line.length + hostHeader.length];
            System.arraycopy(line, 0, request, 0, line.length);
            System.arraycopy(hostHeader, 0, request, line.length, hostHeader.length);
            out.write(request);
            out.flush();
            int headerEnd;
            while ((headerEnd = indexOfHeaderEnd()) < 0) {
                fill();
            }
            String head = new String(buffer, start, headerEnd - start, StandardCharsets.ISO_8859_1);
            int status = Integer.parseInt(head.substring(9, 12));
            int length = contentLength(head);
            start = headerEnd + 4;
            while (end - start < length) {
                fill();
            }
            start += length;
            return status;
        }

        static int contentLength(String head) {
            for (String h : head.split("\r\n")) {
                if (h.regionMatches(true, 0, "content-length:", 0, 15)) {
                    return Integer.parseInt(h.substring(15).strip());
                }
            }
            throw new IllegalStateException("answer without Content-Length: " + head);
        }

        private int indexOfHeaderEnd() {
            for (int i = start; i + 3 < end; i++) {
                if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n') {
                    return i;
                }
            }
            return -1;
        }

        private void fill() throws IOException {
            if (start > 0) {
                System.arraycopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
            }
            if (end == buffer.length) {
                throw new IllegalStateException("answer larger than " + buffer.length + " bytes");
            }
            int n = in.read(buffer, end, buffer.length - end);
            if (n < 0) {
                throw new IOException("connection closed by the server");
            }
            end += n;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
