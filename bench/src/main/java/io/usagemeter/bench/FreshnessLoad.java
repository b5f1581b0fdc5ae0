package io.usagemeter.bench;

import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Freshness, ingest → limit check, measured from a process of its own against a running stack (for example
 * {@code meter dev}, whose {@code .meter/dev.env} gives {@code METER_INGEST_URL}, {@code METER_ENFORCER_URL} and
 * {@code METER_API_KEY}), so the load generator does not share a JVM with the broker and the services.
 *
 * <p>The same method as the suite's freshness phase: open loop, one new user's event posted every
 * {@code 1 / perSecond} s, then its limit polled every {@code pollMillis} ms until {@code used} counts it, latency
 * from the intended send time (no coordinated omission; a sample counts when the poll that sees it returns, so the
 * poll interval can only add to it); meanwhile a background load of {@code background} events/s in batches of 100
 * through the same HTTP API. Prints one result line.
 *
 * <p>With {@code METER_KAFKA_BOOTSTRAP} set it also times each sample's hops, from the same intended send time:
 * ingest's answer, the event on the usage events topic, its user's summary on the summaries topic as a
 * {@code read_committed} consumer sees it (the aggregator's transaction committed), and the limit answer.
 */
public final class FreshnessLoad {

    private static final Pattern USED = Pattern.compile("\"used\"\\s*:\\s*(\\d+)");
    private static final int BATCH = 100;

    private FreshnessLoad() {
    }

    public static void main(String[] args) throws Exception {
        URI events = URI.create(requiredEnv("METER_INGEST_URL") + "/v1/events");
        URI limits = URI.create(requiredEnv("METER_ENFORCER_URL") + "/v1/limits/");
        String apiKey = requiredEnv("METER_API_KEY");
        int background = Integer.getInteger("background", 5_000);
        int seconds = Integer.getInteger("seconds", 30);
        int perSecond = Integer.getInteger("perSecond", 20);
        int warmup = Integer.getInteger("warmup", 10);
        int pollMillis = Integer.getInteger("pollMillis", 10);
        Hops hops = KafkaSettings.ifSet(MeterEnvironment.of(System.getenv())).map(k -> new Hops(k.bootstrapServers())).orElse(null);

        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        UsageMix mix = new UsageMix();
        AtomicInteger nextCall = new AtomicInteger();
        AtomicLong backgroundSent = new AtomicLong();
        ScheduledExecutorService ticks = Executors.newSingleThreadScheduledExecutor();
        ExecutorService posters = Executors.newFixedThreadPool(8);
        if (background > 0) {
            long periodMicros = 1_000_000L * BATCH / background;
            ticks.scheduleAtFixedRate(() -> posters.submit(() -> {
                int first = nextCall.getAndAdd(BATCH);
                List<UsageEvent> batch = new ArrayList<>(BATCH);
                for (int i = 0; i < BATCH; i++) {
                    batch.add(mix.event(first + i));
                }
                try {
                    if (post(http, events, apiKey, Json.write(batch)) == 202) {
                        backgroundSent.addAndGet(BATCH);
                    }
                } catch (Exception e) {
                    // counted as not sent
                }
            }), 0, periodMicros, TimeUnit.MICROSECONDS);
        }
        System.out.printf(Locale.ROOT, "background %d events/s offered; %d s warm-up%n", background, warmup);
        TimeUnit.SECONDS.sleep(warmup);

        Histogram latency = new Histogram(60_000_000_000L, 3);
        AtomicInteger lost = new AtomicInteger();
        // A sampler holds its thread until its limit answer counts the event (up to 30 s): a fixed pool would queue
        // samples behind slow ones once freshness passes pool size / rate, and measure its own queue.
        ExecutorService samplers = Executors.newCachedThreadPool();
        List<Future<?>> pending = new ArrayList<>();
        long sentBefore = backgroundSent.get();
        long start = System.nanoTime() + 500_000_000L;
        long interval = 1_000_000_000L / perSecond;
        for (int s = 0; s < seconds * perSecond; s++) {
            long intended = start + s * interval;
            long wait = intended - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            }
            int call = nextCall.getAndIncrement();
            pending.add(samplers.submit(() -> sample(http, events, limits, apiKey,
                    mix.event(call, UUID.randomUUID(), Instant.now()), intended, pollMillis, latency, hops, lost)));
        }
        for (Future<?> f : pending) {
            f.get();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        long accepted = backgroundSent.get() - sentBefore;
        ticks.shutdownNow();
        posters.shutdownNow();
        samplers.shutdownNow();
        System.out.printf(Locale.ROOT, "Freshness ingest -> limit check (separate process): p50 %.1f ms, p99 %.1f ms, "
                        + "max %.1f ms; %d samples at %d/s, polled every %d ms, %d not seen within 30 s; background %d "
                        + "events/s offered, %.0f accepted%n",
                latency.getValueAtPercentile(50) / 1e6, latency.getValueAtPercentile(99) / 1e6,
                latency.getMaxValue() / 1e6, latency.getTotalCount(), perSecond, pollMillis, lost.get(), background,
                accepted / elapsed);
        if (hops != null) {
            hops.print();
        }
        System.exit(0);
    }

    private static void sample(HttpClient http, URI events, URI limits, String apiKey, UsageEvent event,
                               long intended, int pollMillis, Histogram latency, Hops hops, AtomicInteger lost) {
        try {
            if (hops != null) {
                hops.watch(event.userId());
            }
            if (post(http, events, apiKey, Json.write(List.of(event))) != 202) {
                lost.incrementAndGet();
                return;
            }
            long accepted = System.nanoTime();
            if (hops != null) {
                hops.accepted(intended, accepted);
            }
            HttpRequest check = HttpRequest.newBuilder(limits.resolve(event.userId().toString()))
                    .header("Authorization", "Bearer " + apiKey).GET().build();
            long giveUp = intended + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < giveUp) {
                String body = http.send(check, HttpResponse.BodyHandlers.ofString()).body();
                Matcher m = USED.matcher(body);
                if (m.find() && Long.parseLong(m.group(1)) > 0) {
                    long answered = System.nanoTime();
                    synchronized (latency) {
                        latency.recordValue(answered - intended);
                    }
                    if (hops != null) {
                        hops.answered(event.userId(), intended, answered);
                    }
                    return;
                }
                Thread.sleep(pollMillis);
            }
            if (hops != null) {
                hops.answered(event.userId(), intended, -1);
            }
            lost.incrementAndGet();
        } catch (Exception e) {
            lost.incrementAndGet();
        }
    }

    /** Each sample's hops, as cumulative latencies from its intended send time. */
    private static final class Hops {
        private final TopicSightings usageEvents;
        private final TopicSightings summaries;
        private final Histogram accepted = new Histogram(60_000_000_000L, 3);
        private final Histogram onEvents = new Histogram(60_000_000_000L, 3);
        private final Histogram onSummaries = new Histogram(60_000_000_000L, 3);
        private final Histogram answered = new Histogram(60_000_000_000L, 3);

        Hops(String bootstrap) {
            Deserializer<MonthlySummaryKey> summaryKeys = Topics.USAGE_SUMMARIES.keySerde().deserializer();
            this.usageEvents = new TopicSightings(bootstrap, Topics.USAGE_EVENTS.name(), false,
                    key -> key == null ? null : parseUser(new String(key, StandardCharsets.UTF_8)));
            this.summaries = new TopicSightings(bootstrap, Topics.USAGE_SUMMARIES.name(), true,
                    key -> key == null ? null : summaryKeys.deserialize(Topics.USAGE_SUMMARIES.name(), key).userId());
        }

        void watch(UUID user) {
            usageEvents.watch(user);
            summaries.watch(user);
        }

        synchronized void accepted(long intended, long acceptedAt) {
            accepted.recordValue(acceptedAt - intended);
        }

        /** {@code answeredAt} -1: not counted within the time allowed; its hops on the topics are noted all the same. */
        synchronized void answered(UUID user, long intended, long answeredAt) {
            if (answeredAt >= 0) {
                answered.recordValue(answeredAt - intended);
            }
            Long event = usageEvents.seenAt(user);
            if (event != null) {
                onEvents.recordValue(Math.max(0, event - intended));
            }
            Long summary = summaries.seenAt(user);
            if (summary != null) {
                onSummaries.recordValue(Math.max(0, summary - intended));
            }
        }

        synchronized void print() throws InterruptedException {
            usageEvents.close();
            summaries.close();
            System.out.println("Hops, from the intended send time (p50 / p99 / max ms, samples seen there, every sample"
                    + " included whether or not its limit answer counted it in time):");
            line("ingest answered 202", accepted);
            line("event on " + Topics.USAGE_EVENTS.name(), onEvents);
            line("summary on " + Topics.USAGE_SUMMARIES.name() + " (read_committed)", onSummaries);
            line("limit answer counts it", answered);
        }

        private static void line(String hop, Histogram h) {
            System.out.printf(Locale.ROOT, "  %-60s %8.1f / %8.1f / %8.1f  (%d)%n", hop,
                    h.getValueAtPercentile(50) / 1e6, h.getValueAtPercentile(99) / 1e6, h.getMaxValue() / 1e6,
                    h.getTotalCount());
        }

        private static UUID parseUser(String key) {
            try {
                return UUID.fromString(key);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
    }

    private static int post(HttpClient http, URI uri, String apiKey, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(uri)
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer " + apiKey)
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
        return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    private static String requiredEnv(String name) {
        String value = System.getenv(name);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException(name + " is not set: source .meter/dev.env of a running meter dev first");
        }
        return value;
    }
}
