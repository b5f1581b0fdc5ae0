package io.usagemeter.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;
import org.HdrHistogram.Histogram;

/**
 * {@link LimitCheckLoad.Client#NIO}: every connection on one thread and one selector, closed loop (each connection
 * sends its next GET when the previous answer is read whole, framed by {@code Content-Length}).
 */
final class NioLoad {

    private NioLoad() {
    }

    private static final class Connection {
        final SocketChannel channel;
        final ByteBuffer in = ByteBuffer.allocate(16 * 1024);
        long sentAt;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }
    }

    record Measured(Histogram latency, int failures, long clientCpuNanos) {
    }

    /** Runs until {@code until} ({@link System#nanoTime()}); the answers still in flight then are awaited. */
    static Measured run(URI limits, String apiKey, int connections, long until, int users, IntFunction<UUID> user)
            throws Exception {
        long cpuStart = LimitCheckLoad.THREADS.getCurrentThreadCpuTime();
        byte[] tail = (" HTTP/1.1\r\nHost: " + limits.getHost() + ":" + limits.getPort()
                + "\r\nAuthorization: Bearer " + apiKey + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        Histogram latency = new Histogram(60_000_000_000L, 3);
        int failures = 0;
        List<Connection> all = new ArrayList<>();
        try (Selector selector = Selector.open()) {
            for (int i = 0; i < connections; i++) {
                SocketChannel ch = SocketChannel.open(new InetSocketAddress(limits.getHost(), limits.getPort()));
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ch.configureBlocking(false);
                Connection c = new Connection(ch);
                ch.register(selector, SelectionKey.OP_READ, c);
                all.add(c);
                send(c, limits, tail, users, user);
            }
            int open = connections;
            while (open > 0) {
                selector.select(1000);
                for (SelectionKey key : selector.selectedKeys()) {
                    Connection c = (Connection) key.attachment();
                    if (c.channel.read(c.in) < 0) {
                        throw new IOException("connection closed by the server");
                    }
                    int status = complete(c.in);
                    if (status == 0) {
                        continue;
                    }
                    long now = System.nanoTime();
                    latency.recordValue(now - c.sentAt);
                    if (status != 200) {
                        failures++;
                    }
                    if (now < until) {
                        send(c, limits, tail, users, user);
                    } else {
                        key.cancel();
                        open--;
                    }
                }
                selector.selectedKeys().clear();
            }
        } finally {
            for (Connection c : all) {
                c.channel.close();
            }
        }
        return new Measured(latency, failures, LimitCheckLoad.THREADS.getCurrentThreadCpuTime() - cpuStart);
    }

    private static void send(Connection c, URI limits, byte[] tail, int users, IntFunction<UUID> user) throws IOException {
        byte[] line = ("GET " + limits.getPath() + user.apply(ThreadLocalRandom.current().nextInt(users)))
                .getBytes(StandardCharsets.US_ASCII);
        ByteBuffer out = ByteBuffer.allocate(line.length + tail.length).put(line).put(tail).flip();
        c.sentAt = System.nanoTime();
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
}
