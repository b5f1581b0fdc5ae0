package io.usagemeter.cli.load;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;

/**
 * An open-loop load generator for HTTP ingest over at most {@code connections} HTTP/1.1 keep-alive
 * connections, all driven by one thread and one selector; or, for a plan made with
 * {@link Plan#closedLoop}, a closed loop that measures what the server can take.
 *
 * <p>Request {@code r} is due at {@code start + r * interval} whatever the answers do. It leaves on
 * an idle connection, or on a new one while fewer than {@code connections} are open; when every
 * connection is busy it waits, and its latency still counts from the time it was due (coordinated
 * omission corrected), so a saturated server shows in the percentiles instead of lowering the
 * offered rate. The connection bound is hard: a server that refuses or stalls never makes the
 * generator open more sockets.
 *
 * <p>With {@code retryWithin} set, a request answered 503/429 or 5xx, or not answered at all, is
 * sent again (same events, same ids: ingest dedupes them) after its {@code Retry-After}, or after
 * an exponential backoff with jitter (100 ms doubling to 10 s) when none was given, as
 * {@code UsageClient} does, until {@code retryWithin} after it was first due.
 *
 * <p>In a closed loop each connection sends its next request as soon as its answer is read, until the
 * duration has passed: the server's throughput at that many requests in flight. Latency then runs from
 * the send. The report gives the generator thread's CPU time, so a run can tell whether the generator
 * or the server was the bound.
 */
public final class LoadGenerator {

    /**
     * Four times ingest's default in-flight bound ({@code IngestConfig.DEFAULT_MAX_IN_FLIGHT}): past what ingest
     * takes, requests meet that bound and are shed with 503 instead of waiting for a connection here.
     */
    public static final int DEFAULT_CONNECTIONS = 256;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_RETRY_WITHIN = Duration.ofSeconds(60);
    private static final long INITIAL_BACKOFF_MS = 100;
    private static final long MAX_BACKOFF_MS = 10_000;
    private static final long LATE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    /**
     * What to send: {@code eventsPerSecond} spread over {@code users}, {@code batch} events per request.
     *
     * @param connections connections open at most at once
     * @param timeout from sending a request (or opening its connection) to its whole answer
     * @param retryWithin {@link Duration#ZERO} for no retries, else how long after a request was first
     *     due it may still be sent again
     */
    public record Plan(URI events, String apiKey, int eventsPerSecond, int users, Duration duration, int batch,
                       int connections, Duration timeout, Duration retryWithin, boolean closedLoop) {
        public Plan {
            Objects.requireNonNull(events, "events");
            Objects.requireNonNull(apiKey, "apiKey");
            Objects.requireNonNull(duration, "duration");
            Objects.requireNonNull(timeout, "timeout");
            Objects.requireNonNull(retryWithin, "retryWithin");
            if (!"http".equalsIgnoreCase(events.getScheme()) || events.getHost() == null) {
                throw new IllegalArgumentException("meter load speaks plain HTTP/1.1 to http://host:port, not " + events);
            }
            if (eventsPerSecond < 1 && !closedLoop) {
                throw new IllegalArgumentException("rate must be at least 1 event/s, was " + eventsPerSecond);
            }
            if (users < 1) {
                throw new IllegalArgumentException("users must be at least 1, was " + users);
            }
            if (duration.isNegative() || duration.isZero()) {
                throw new IllegalArgumentException("duration must be positive, was " + duration);
            }
            if (batch < 1 || batch > 1000) {
                throw new IllegalArgumentException("batch must be between 1 and 1000 events, was " + batch);
            }
            if (connections < 1 || connections > 10_000) {
                throw new IllegalArgumentException("connections must be between 1 and 10000, was " + connections);
            }
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, was " + timeout);
            }
            if (retryWithin.isNegative()) {
                throw new IllegalArgumentException("retry window must not be negative, was " + retryWithin);
            }
        }

        /** An open-loop plan. */
        public Plan(URI events, String apiKey, int eventsPerSecond, int users, Duration duration, int batch,
                    int connections, Duration timeout, Duration retryWithin) {
            this(events, apiKey, eventsPerSecond, users, duration, batch, connections, timeout, retryWithin, false);
        }

        /**
         * A closed loop over {@code connections}: each sends its next request when the previous answer is read,
         * for {@code duration}, without retries.
         */
        public static Plan closedLoop(URI events, String apiKey, int users, Duration duration, int batch, int connections,
                                      Duration timeout) {
            return new Plan(events, apiKey, 0, users, duration, batch, connections, timeout, Duration.ZERO, true);
        }

        /** A plan with the default connections and timeout, and no retries. */
        public Plan(URI events, String apiKey, int eventsPerSecond, int users, Duration duration, int batch) {
            this(events, apiKey, eventsPerSecond, users, duration, batch, DEFAULT_CONNECTIONS, DEFAULT_TIMEOUT,
                    Duration.ZERO);
        }

        /** Requests an open loop sends; a closed loop sends until its duration has passed. */
        long requests() {
            return closedLoop ? Long.MAX_VALUE : Math.max(1, duration.toNanos() * eventsPerSecond / batch / 1_000_000_000L);
        }
    }

    /** One request across its attempts: the same bytes (the same event ids) every time. */
    private static final class Request {
        final long number;
        final long firstDue;
        final byte[] bytes;
        int attempt;
        long due;

        Request(long number, long firstDue, byte[] bytes) {
            this.number = number;
            this.firstDue = firstDue;
            this.due = firstDue;
            this.bytes = bytes;
        }
    }

    private static final class Connection {
        final SocketChannel channel;
        final SelectionKey key;
        final ResponseReader reader = new ResponseReader();
        boolean connected;
        boolean closed;
        Request request;
        ByteBuffer out;

        Connection(SocketChannel channel, SelectionKey key, boolean connected) {
            this.channel = channel;
            this.key = key;
            this.connected = connected;
        }
    }

    /** A request's deadline, checked in the order they were set (one timeout for all, so that order is theirs). */
    private record Deadline(Connection connection, Request request, long at) {}

    private final String run = UUID.randomUUID().toString().substring(0, 8);

    /** Sends the plan's requests on schedule and waits for every answer, retry or give-up. */
    public LoadReport run(Plan plan) throws IOException {
        return new Run(plan).execute();
    }

    private final class Run {
        private final Plan plan;
        private final InetSocketAddress address;
        private final byte[] head;
        private final UUID[] users;
        private final long requests;
        private final double intervalNanos;
        private final long timeoutNanos;
        private final Deque<Connection> idle = new ArrayDeque<>();
        private final Deque<Deadline> deadlines = new ArrayDeque<>();
        private final PriorityQueue<Request> retryQueue = new PriorityQueue<>(Comparator.comparingLong(r -> r.due));
        private final LoadReport.Tally firstAttempts = new LoadReport.Tally();
        private final LoadReport.Tally retries = new LoadReport.Tally();
        private final Histogram latency = new Histogram(TimeUnit.MINUTES.toNanos(10), 3);
        private final Histogram acceptedLatency = new Histogram(TimeUnit.MINUTES.toNanos(10), 3);
        private final Set<Connection> all = new HashSet<>();
        private Selector selector;
        private int open;
        private int busy;
        private long next;
        private long start;
        private long accepted;
        private final BitSet acceptedNumbers = new BitSet();
        private long gaveUp;
        private long maxLag;
        private long lateSends;
        private long opened;
        private long sendUntil;

        Run(Plan plan) {
            this.plan = plan;
            URI uri = plan.events();
            this.address = new InetSocketAddress(uri.getHost(), uri.getPort() > 0 ? uri.getPort() : 80);
            String path = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
                    + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
            this.head = ("POST " + path + " HTTP/1.1\r\nHost: " + uri.getHost() + (uri.getPort() > 0 ? ":" + uri.getPort() : "")
                    + "\r\nContent-Type: application/json\r\nAuthorization: Bearer " + plan.apiKey()
                    + "\r\nContent-Length: ").getBytes(StandardCharsets.ISO_8859_1);
            this.users = new UUID[plan.users()];
            UUID runUsers = UUID.randomUUID();
            for (int i = 0; i < users.length; i++) {
                users[i] = new UUID(runUsers.getMostSignificantBits(), i);
            }
            this.requests = plan.requests();
            this.intervalNanos = plan.closedLoop() ? 0 : 1e9 * plan.batch() / plan.eventsPerSecond();
            this.timeoutNanos = plan.timeout().toNanos();
        }

        LoadReport execute() throws IOException {
            if (address.isUnresolved()) {
                throw new IOException("cannot resolve " + address.getHostString());
            }
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            long cpuAtStart = threads.isCurrentThreadCpuTimeSupported() ? threads.getCurrentThreadCpuTime() : -1;
            try (Selector s = Selector.open()) {
                selector = s;
                start = System.nanoTime();
                sendUntil = start + plan.duration().toNanos();
                while (moreToSend(System.nanoTime()) || !retryQueue.isEmpty() || busy > 0) {
                    long now = System.nanoTime();
                    expire(now);
                    boolean waitingForConnection = dispatch(now);
                    await(now, waitingForConnection);
                }
            } finally {
                for (Connection c : all) {
                    closeQuietly(c.channel);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long generatorCpu = cpuAtStart < 0 ? -1 : threads.getCurrentThreadCpuTime() - cpuAtStart;
            return new LoadReport(plan.closedLoop() ? next : requests, plan.batch(), plan.connections(), seconds,
                    plan.closedLoop() ? 0 : plan.eventsPerSecond(), plan.closedLoop(), firstAttempts, retries, accepted,
                    gaveUp, latency, acceptedLatency, maxLag, lateSends, opened, generatorCpu,
                    new LoadReport.AcceptedEvents(eventIdPrefix(), plan.batch(), acceptedNumbers));
        }

        /** A new request may still be sent: an open loop has some left, a closed loop is within its duration. */
        private boolean moreToSend(long now) {
            return plan.closedLoop() ? now - sendUntil < 0 : next < requests;
        }

        /** When request {@code r} is due; in a closed loop, now (it leaves as soon as a connection is free). */
        private long due(long r, long now) {
            return plan.closedLoop() ? now : start + (long) (r * intervalNanos);
        }

        /** Sends what is due while a connection is free; true when due work waits for a connection. */
        private boolean dispatch(long now) {
            while (true) {
                boolean retryDue = !retryQueue.isEmpty() && retryQueue.peek().due <= now;
                boolean newDue = moreToSend(now) && due(next, now) <= now;
                if (!retryDue && !newDue) {
                    return false;
                }
                Connection c = idle.poll();
                if (c == null && open >= plan.connections()) {
                    return true;
                }
                Request request = retryDue ? retryQueue.poll() : newRequest(now);
                long lag = now - request.due;
                maxLag = Math.max(maxLag, lag);
                if (lag > LATE_NANOS) {
                    lateSends++;
                }
                if (c == null) {
                    try {
                        c = connect();
                    } catch (ConnectException e) {
                        record(request, Outcome.CONNECT_REFUSED, 0, OptionalLong.empty(), e.getMessage());
                        continue;
                    } catch (IOException e) {
                        record(request, Outcome.IO_ERROR, 0, OptionalLong.empty(), e.toString());
                        continue;
                    }
                }
                send(c, request, now);
            }
        }

        private Request newRequest(long now) {
            long r = next++;
            byte[] body = body(r).getBytes(StandardCharsets.UTF_8);
            byte[] length = (body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
            byte[] bytes = new byte[head.length + length.length + body.length];
            System.arraycopy(head, 0, bytes, 0, head.length);
            System.arraycopy(length, 0, bytes, head.length, length.length);
            System.arraycopy(body, 0, bytes, head.length + length.length, body.length);
            return new Request(r, due(r, now), bytes);
        }

        /** A new connection, connected or on its way (a refusal may come at once, or later as OP_CONNECT). */
        private Connection connect() throws IOException {
            SocketChannel channel = SocketChannel.open();
            try {
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                boolean connected = channel.connect(address);
                Connection c = new Connection(channel,
                        channel.register(selector, connected ? 0 : SelectionKey.OP_CONNECT), connected);
                c.key.attach(c);
                all.add(c);
                opened++;
                open++;
                return c;
            } catch (IOException | RuntimeException e) {
                closeQuietly(channel);
                throw e;
            }
        }

        private void send(Connection c, Request request, long now) {
            c.request = request;
            c.out = ByteBuffer.wrap(request.bytes);
            busy++;
            deadlines.add(new Deadline(c, request, now + timeoutNanos));
            if (c.connected) {
                write(c);
            }
        }

        private void write(Connection c) {
            try {
                c.channel.write(c.out);
            } catch (IOException e) {
                fail(c, Outcome.CONNECTION_CLOSED, e.toString());
                return;
            }
            c.key.interestOps(c.out.hasRemaining() ? SelectionKey.OP_WRITE | SelectionKey.OP_READ : SelectionKey.OP_READ);
        }

        /** Requests past their deadline end as timeouts; their connections are closed (a late answer would be misread). */
        private void expire(long now) {
            while (!deadlines.isEmpty() && deadlines.peek().at() <= now) {
                Deadline d = deadlines.poll();
                if (d.connection().request == d.request()) {
                    fail(d.connection(), Outcome.TIMEOUT, null);
                }
            }
        }

        private void await(long now, boolean waitingForConnection) throws IOException {
            long wake = Long.MAX_VALUE;
            if (!waitingForConnection) {
                if (moreToSend(now) && !plan.closedLoop()) {
                    wake = Math.min(wake, due(next, now));
                }
                if (!retryQueue.isEmpty()) {
                    wake = Math.min(wake, retryQueue.peek().due);
                }
            }
            if (!deadlines.isEmpty()) {
                wake = Math.min(wake, deadlines.peek().at());
            }
            if (!moreToSend(now) && retryQueue.isEmpty() && busy == 0) {
                return;
            }
            long wait = wake - now;
            if (wait <= 0) {
                selector.selectNow();
            } else if (wait < TimeUnit.MILLISECONDS.toNanos(2)) {
                // select() counts in milliseconds: finer waits park, then look at the sockets without blocking.
                if (selector.selectNow() == 0) {
                    LockSupport.parkNanos(wait);
                    selector.selectNow();
                }
            } else {
                selector.select(wake == Long.MAX_VALUE ? 0 : TimeUnit.NANOSECONDS.toMillis(wait));
            }
            for (SelectionKey key : selector.selectedKeys()) {
                Connection c = (Connection) key.attachment();
                if (!key.isValid()) {
                    continue;
                }
                if (key.isConnectable()) {
                    finishConnect(c);
                } else {
                    if (key.isReadable()) {
                        read(c);
                    }
                    if (key.isValid() && key.isWritable() && c.request != null && c.out.hasRemaining()) {
                        write(c);
                    }
                }
            }
            selector.selectedKeys().clear();
        }

        private void finishConnect(Connection c) {
            try {
                c.channel.finishConnect();
                c.connected = true;
                if (c.request != null) {
                    write(c);
                } else {
                    c.key.interestOps(SelectionKey.OP_READ);
                }
            } catch (ConnectException e) {
                fail(c, Outcome.CONNECT_REFUSED, e.getMessage());
            } catch (IOException e) {
                fail(c, Outcome.IO_ERROR, e.toString());
            }
        }

        private void read(Connection c) {
            int n;
            try {
                n = c.channel.read(c.reader.buffer());
            } catch (IOException e) {
                fail(c, Outcome.CONNECTION_CLOSED, e.toString());
                return;
            }
            if (n < 0) {
                ResponseReader.Answer last = c.request != null ? c.reader.atEndOfStream() : null;
                if (last != null) {
                    answered(c, last);
                } else if (c.request != null) {
                    fail(c, Outcome.CONNECTION_CLOSED, "the server closed the connection");
                }
                close(c);
                return;
            }
            if (c.request == null) {
                // Bytes nobody asked for on an idle connection: do not reuse it.
                close(c);
                return;
            }
            try {
                ResponseReader.Answer answer = c.reader.next();
                if (answer != null) {
                    answered(c, answer);
                    if (answer.closesConnection() || c.reader.midResponse()) {
                        close(c);
                    } else {
                        idle.push(c);
                    }
                }
            } catch (ResponseReader.MalformedResponse e) {
                fail(c, Outcome.IO_ERROR, "not an HTTP answer: " + e.getMessage());
            }
        }

        private void answered(Connection c, ResponseReader.Answer answer) {
            Request request = c.request;
            c.request = null;
            busy--;
            record(request, Outcome.ofStatus(answer.status(), answer.retryAfterSeconds().isPresent()), answer.status(),
                    answer.retryAfterSeconds(), null);
        }

        /** Ends the connection's request with {@code outcome} and closes the connection. */
        private void fail(Connection c, Outcome outcome, String error) {
            Request request = c.request;
            if (request != null) {
                c.request = null;
                busy--;
                record(request, outcome, 0, OptionalLong.empty(), error);
            }
            close(c);
        }

        private void close(Connection c) {
            // Not channel.isOpen(): a failed finishConnect closes the channel by itself.
            if (c.closed) {
                return;
            }
            c.closed = true;
            if (c.request != null) {
                c.request = null;
                busy--;
            }
            idle.remove(c);
            c.key.cancel();
            closeQuietly(c.channel);
            open--;
            all.remove(c);
        }

        private void record(Request request, Outcome outcome, int status, OptionalLong retryAfterSeconds, String error) {
            long now = System.nanoTime();
            (request.attempt == 0 ? firstAttempts : retries).add(outcome, status, error);
            if (request.attempt == 0 && status > 0) {
                latency.recordValue(Math.min(now - request.due, latency.getHighestTrackableValue()));
            }
            if (outcome == Outcome.ACCEPTED) {
                accepted++;
                acceptedNumbers.set(Math.toIntExact(request.number));
                acceptedLatency.recordValue(Math.min(now - request.firstDue, acceptedLatency.getHighestTrackableValue()));
                return;
            }
            if (plan.retryWithin().isZero() || !outcome.retryable(status)) {
                return;
            }
            long backoff = Math.min(MAX_BACKOFF_MS, INITIAL_BACKOFF_MS << Math.min(request.attempt, 20));
            long delayMs = Math.max(TimeUnit.SECONDS.toMillis(retryAfterSeconds.orElse(0)),
                    backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
            long again = now + TimeUnit.MILLISECONDS.toNanos(delayMs);
            if (again - request.firstDue > plan.retryWithin().toNanos()) {
                gaveUp++;
                return;
            }
            request.attempt++;
            request.due = again;
            retryQueue.add(request);
        }

        private String body(long r) {
            if (plan.batch() == 1) {
                return Json.write(event(r));
            }
            List<UsageEvent> batch = new ArrayList<>(plan.batch());
            for (int i = 0; i < plan.batch(); i++) {
                batch.add(event(r * plan.batch() + i));
            }
            return Json.write(batch);
        }

        private UsageEvent event(long n) {
            int i = (int) (n % Integer.MAX_VALUE);
            return new UsageEvent(eventIdPrefix() + n, users[(int) (n % users.length)], Instant.now(),
                    Provider.values()[i % 5], "/v1/chat/completions", "POST", i % 17 == 0 ? 429 : 200,
                    40 + i % 900, 700 + i % 3000, 1500 + i % 20_000, i % 4000, 1 + i % 3);
        }
    }

    /** Event ids of this generator are this prefix and the event's number, {@code batch} numbers per request. */
    private String eventIdPrefix() {
        return "load-" + run + "-";
    }

    private static void closeQuietly(SocketChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }
}
