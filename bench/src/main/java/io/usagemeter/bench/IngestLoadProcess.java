package io.usagemeter.bench;

import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The load side of {@link IngestProcessesBench}, a JVM of its own (it shares only the machine's cores with the
 * broker's and the service's JVMs). Three modes:
 * <ul>
 *   <li>{@code raw-bytes BOOTSTRAP EVENTS}: a {@link KafkaProducer} with ingest's own producer settings
 *       ({@link IngestConfig#producerProperties()}) sends {@code EVENTS} pre-serialised usage events keyed by
 *       user (the ceiling);</li>
 *   <li>{@code raw-serde BOOTSTRAP EVENTS}: the same events as {@link UsageEvent}s built beforehand, each serialised
 *       with the topic's serdes (key and value) on the sending thread;</li>
 *   <li>{@code http URL SECONDS WARMUP CONNECTIONS BATCH}: closed-loop {@code POST}s of pre-built JSON batches of
 *       {@code BATCH} events, one blocking keep-alive connection per thread; the API key from
 *       {@code BENCH_API_KEY}.</li>
 * </ul>
 * A producer mode first sends a fifth of {@code EVENTS} as warm-up. Prints {@code measuring} when the measured
 * part starts and {@code result rate=… count=… failures=… p50=… p99=… cpu_us=…} at its end (events/s, latencies in
 * µs, this JVM's CPU per event in µs); a producer mode then prints {@code producer batch_bytes=… records_per_request=…}.
 */
public final class IngestLoadProcess {

    private IngestLoadProcess() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "raw-bytes", "raw-serde" -> produce(args[0].equals("raw-serde"), args[1], Integer.parseInt(args[2]));
            case "http" -> post(URI.create(args[1]), Double.parseDouble(args[2]), Double.parseDouble(args[3]),
                    Integer.parseInt(args[4]), Integer.parseInt(args[5]));
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        System.exit(0);
    }

    private static SampleEvents sample() {
        return new SampleEvents(UUID.randomUUID().toString().substring(0, 8), Instant.now().minusSeconds(600));
    }

    private static void produce(boolean serde, String bootstrap, int events) {
        Properties props = IngestConfig.defaults(bootstrap, "jdbc:postgresql://localhost/unused", "bench", "")
                .producerProperties();
        SampleEvents sample = sample();
        try (var bytes = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
             var typed = new KafkaProducer<>(props, Topics.USAGE_EVENTS.keySerde().serializer(),
                     Topics.USAGE_EVENTS.valueSerde().serializer())) {
            UsageEvent[] prebuilt = new UsageEvent[1000];
            byte[][] values = new byte[prebuilt.length][];
            for (int i = 0; i < values.length; i++) {
                prebuilt[i] = sample.event(i);
                values[i] = Json.write(prebuilt[i]).getBytes(StandardCharsets.UTF_8);
            }
            byte[][] keys = new byte[SampleEvents.USERS][];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = sample.user(i).toString().getBytes(StandardCharsets.UTF_8);
            }
            AtomicLong failed = new AtomicLong();
            Callback callback = (metadata, e) -> {
                if (e != null) {
                    failed.incrementAndGet();
                }
            };
            for (int round = 0; round < 2; round++) {
                int count = round == 0 ? events / 5 : events;
                if (round == 1) {
                    System.out.println("measuring");
                    System.out.flush();
                }
                long cpuFrom = processCpuNanos();
                long from = System.nanoTime();
                String topic = Topics.USAGE_EVENTS.name();
                for (int i = 0; i < count; i++) {
                    if (serde) {
                        UsageEvent e = prebuilt[i % prebuilt.length];
                        typed.send(new ProducerRecord<>(topic, null, e.occurredAt().toEpochMilli(), e.userId().toString(), e),
                                callback);
                    } else {
                        bytes.send(new ProducerRecord<>(topic, null, System.currentTimeMillis(), keys[i % keys.length],
                                values[i % values.length]), callback);
                    }
                }
                (serde ? typed : bytes).flush();
                long nanos = System.nanoTime() - from;
                long cpu = processCpuNanos() - cpuFrom;
                if (round == 1) {
                    result(count / (nanos / 1e9), count, (int) failed.get(), null, cpu);
                    var metrics = (serde ? typed : bytes).metrics();
                    System.out.printf(Locale.ROOT, "producer batch_bytes=%.0f records_per_request=%.1f%n",
                            producerMetric(metrics, "batch-size-avg"), producerMetric(metrics, "records-per-request-avg"));
                    System.out.flush();
                }
            }
        }
    }

    private static void post(URI url, double seconds, double warmup, int connections, int batch) throws Exception {
        String apiKey = System.getenv("BENCH_API_KEY");
        SampleEvents sample = sample();
        List<byte[]> requests = new ArrayList<>();
        for (int b = 0; b < 20; b++) {
            List<UsageEvent> events = new ArrayList<>(batch);
            for (int i = 0; i < batch; i++) {
                events.add(sample.event(b * batch + i));
            }
            byte[] body = Json.write(events).getBytes(StandardCharsets.UTF_8);
            byte[] head = ("POST " + url.getPath() + " HTTP/1.1\r\nHost: " + url.getHost() + ":" + url.getPort()
                    + "\r\nAuthorization: Bearer " + apiKey + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
            ByteArrayOutputStream request = new ByteArrayOutputStream(head.length + body.length);
            request.writeBytes(head);
            request.writeBytes(body);
            requests.add(request.toByteArray());
        }
        long start = System.nanoTime();
        long measureFrom = start + (long) (warmup * 1e9);
        long until = measureFrom + (long) (seconds * 1e9);
        List<Worker> workers = new ArrayList<>();
        for (int t = 0; t < connections; t++) {
            Worker w = new Worker(url, requests, t, measureFrom, until);
            workers.add(w);
            w.start();
        }
        long sleep = measureFrom - System.nanoTime();
        if (sleep > 0) {
            Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
        }
        long cpuFrom = processCpuNanos();
        System.out.println("measuring");
        System.out.flush();
        Histogram latency = new Histogram(60_000_000_000L, 3);
        long accepted = 0;
        int failures = 0;
        for (Worker w : workers) {
            w.join();
            if (w.error != null) {
                throw new IllegalStateException("a load connection failed", w.error);
            }
            latency.add(w.latency);
            accepted += w.accepted;
            failures += w.failures;
        }
        long events = accepted * batch;
        result(events / seconds, events, failures, latency, processCpuNanos() - cpuFrom);
    }

    /** One keep-alive connection sending its next request when the previous answer is read. */
    private static final class Worker extends Thread {
        private final URI url;
        private final List<byte[]> requests;
        private final int offset;
        private final long measureFrom;
        private final long until;
        final Histogram latency = new Histogram(60_000_000_000L, 3);
        long accepted;
        int failures;
        Exception error;

        Worker(URI url, List<byte[]> requests, int offset, long measureFrom, long until) {
            super("post-" + offset);
            this.url = url;
            this.requests = requests;
            this.offset = offset;
            this.measureFrom = measureFrom;
            this.until = until;
        }

        @Override
        public void run() {
            byte[] buffer = new byte[64 * 1024];
            try (Socket socket = new Socket()) {
                socket.setTcpNoDelay(true);
                socket.connect(new InetSocketAddress(url.getHost(), url.getPort()));
                OutputStream out = socket.getOutputStream();
                InputStream in = socket.getInputStream();
                for (int i = offset; ; i++) {
                    long sent = System.nanoTime();
                    if (sent >= until) {
                        return;
                    }
                    out.write(requests.get(i % requests.size()));
                    out.flush();
                    int status = readAnswer(in, buffer);
                    long done = System.nanoTime();
                    if (sent >= measureFrom) {
                        latency.recordValue(done - sent);
                        if (status == 202) {
                            accepted++;
                        } else {
                            failures++;
                        }
                    }
                    if (status == 503) {
                        Thread.sleep(10);
                    }
                }
            } catch (Exception e) {
                error = e;
            }
        }
    }

    /** Reads one answer (framed by {@code Content-Length}) and returns its status. */
    private static int readAnswer(InputStream in, byte[] buffer) throws IOException {
        int length = 0;
        int headerEnd = -1;
        while (headerEnd < 0) {
            int n = in.read(buffer, length, buffer.length - length);
            if (n < 0) {
                throw new IOException("connection closed by the server");
            }
            length += n;
            for (int i = Math.max(0, length - n - 3); i + 3 < length; i++) {
                if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n') {
                    headerEnd = i;
                    break;
                }
            }
        }
        String head = new String(buffer, 0, headerEnd, StandardCharsets.ISO_8859_1);
        int bodyLength = LimitCheckLoad.SocketConnection.contentLength(head);
        int remaining = headerEnd + 4 + bodyLength - length;
        while (remaining > 0) {
            int n = in.read(buffer, 0, Math.min(buffer.length, remaining));
            if (n < 0) {
                throw new IOException("connection closed by the server");
            }
            remaining -= n;
        }
        return Integer.parseInt(head.substring(9, 12));
    }

    private static void result(double rate, long count, int failures, Histogram latency, long cpuNanos) {
        System.out.printf(Locale.ROOT, "result rate=%.1f count=%d failures=%d p50=%d p99=%d cpu_us=%.3f%n", rate, count,
                failures, latency == null ? 0 : latency.getValueAtPercentile(50) / 1000,
                latency == null ? 0 : latency.getValueAtPercentile(99) / 1000, cpuNanos / 1e3 / Math.max(count, 1));
        System.out.flush();
    }

    private static double producerMetric(Map<MetricName, ? extends Metric> metrics, String name) {
        return metrics.entrySet().stream()
                .filter(e -> e.getKey().group().equals("producer-metrics") && e.getKey().name().equals(name))
                .map(e -> ((Number) e.getValue().metricValue()).doubleValue()).findFirst().orElse(Double.NaN);
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
