package io.usagemeter.bench;

import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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

/**
 * Freshness, ingest → limit check, measured from a process of its own against a running stack (for example
 * {@code meter dev}, whose {@code .meter/dev.env} gives {@code METER_INGEST_URL}, {@code METER_ENFORCER_URL} and
 * {@code METER_API_KEY}), so the load generator does not share a JVM with the broker and the services.
 *
 * <p>The same method as the suite's freshness phase: open loop, one new user's event posted every
 * {@code 1 / perSecond} s, then its limit polled every 5 ms until {@code used} counts it, latency from the
 * intended send time (no coordinated omission); meanwhile a background load of {@code background} events/s in
 * batches of 100 through the same HTTP API. Prints one result line.
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
        ExecutorService samplers = Executors.newFixedThreadPool(32);
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
                    mix.event(call, UUID.randomUUID(), Instant.now()), intended, latency, lost)));
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
                        + "max %.1f ms; %d samples at %d/s, %d not seen within 30 s; background %d events/s offered, "
                        + "%.0f accepted%n",
                latency.getValueAtPercentile(50) / 1e6, latency.getValueAtPercentile(99) / 1e6,
                latency.getMaxValue() / 1e6, latency.getTotalCount(), perSecond, lost.get(), background,
                accepted / elapsed);
        System.exit(0);
    }

    private static void sample(HttpClient http, URI events, URI limits, String apiKey, UsageEvent event,
                               long intended, Histogram latency, AtomicInteger lost) {
        try {
            if (post(http, events, apiKey, Json.write(List.of(event))) != 202) {
                lost.incrementAndGet();
                return;
            }
            HttpRequest check = HttpRequest.newBuilder(limits.resolve(event.userId().toString()))
                    .header("Authorization", "Bearer " + apiKey).GET().build();
            long giveUp = intended + TimeUnit.SECONDS.toNanos(30);
            while (System.nanoTime() < giveUp) {
                String body = http.send(check, HttpResponse.BodyHandlers.ofString()).body();
                Matcher m = USED.matcher(body);
                if (m.find() && Long.parseLong(m.group(1)) > 0) {
                    synchronized (latency) {
                        latency.recordValue(System.nanoTime() - intended);
                    }
                    return;
                }
                Thread.sleep(5);
            }
            lost.incrementAndGet();
        } catch (Exception e) {
            lost.incrementAndGet();
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
