package io.usagemeter.cli.load;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;

/**
 * An open-loop load generator for HTTP ingest: requests leave at fixed intended times whatever the
 * answers do, and each latency is measured from the request's <em>intended</em> send time, so a slow
 * server (or a generator that fell behind) shows up in the percentiles instead of silently lowering the
 * offered rate (coordinated omission).
 */
public final class LoadGenerator {

    /** What to send: {@code eventsPerSecond} spread over {@code users}, {@code batch} events per request. */
    public record Plan(URI events, String apiKey, int eventsPerSecond, int users, Duration duration, int batch) {
        public Plan {
            Objects.requireNonNull(events, "events");
            Objects.requireNonNull(apiKey, "apiKey");
            Objects.requireNonNull(duration, "duration");
            if (eventsPerSecond < 1) {
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
        }

        long requests() {
            return Math.max(1, duration.toNanos() * eventsPerSecond / batch / 1_000_000_000L);
        }
    }

    /**
     * The outcome: requests sent and how they were answered (by HTTP status; -1 for no answer), events
     * accepted, the offered and achieved rates, and latency from intended send time to answer.
     */
    public record Report(long requests, long acceptedEvents, Map<Integer, Long> statuses, double seconds,
                         double offeredEventsPerSecond, Histogram latency, long maxLagNanos) {

        public double acceptedEventsPerSecond() {
            return acceptedEvents / seconds;
        }

        /** A few lines for people. */
        public String summary() {
            return String.format(java.util.Locale.ROOT,
                    "requests %,d in %.1f s; events accepted %,d (%.0f/s of %.0f/s offered); statuses %s%n"
                            + "latency from intended send (ms): p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f%n"
                            + "generator lag behind schedule, max %.2f ms",
                    requests, seconds, acceptedEvents, acceptedEventsPerSecond(), offeredEventsPerSecond, statuses,
                    ms(50), ms(90), ms(99), ms(99.9), latency.getMaxValue() / 1e6, maxLagNanos / 1e6);
        }

        private double ms(double percentile) {
            return latency.getTotalCount() == 0 ? Double.NaN : latency.getValueAtPercentile(percentile) / 1e6;
        }
    }

    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

    private final HttpClient http;
    private final String run = UUID.randomUUID().toString().substring(0, 8);

    public LoadGenerator() {
        this(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build());
    }

    public LoadGenerator(HttpClient http) {
        this.http = http;
    }

    /** Sends the plan's requests on schedule and waits for every answer (or its timeout). */
    public Report run(Plan plan) throws InterruptedException {
        long requests = plan.requests();
        double intervalNanos = 1e9 * plan.batch() / plan.eventsPerSecond();
        UUID[] users = new UUID[plan.users()];
        UUID runUsers = UUID.randomUUID();
        for (int i = 0; i < users.length; i++) {
            users[i] = new UUID(runUsers.getMostSignificantBits(), i);
        }
        Histogram latency = new Histogram(TimeUnit.MINUTES.toNanos(5), 3);
        Map<Integer, AtomicLong> statuses = new ConcurrentHashMap<>();
        AtomicLong accepted = new AtomicLong();
        List<CompletableFuture<Void>> inFlight = new ArrayList<>();
        long maxLag = 0;
        long start = System.nanoTime();
        for (long r = 0; r < requests; r++) {
            long intended = start + (long) (r * intervalNanos);
            long wait = intended - System.nanoTime();
            if (wait > 0) {
                TimeUnit.NANOSECONDS.sleep(wait);
            } else {
                maxLag = Math.max(maxLag, -wait);
            }
            String body = body(plan, users, r);
            HttpRequest request = HttpRequest.newBuilder(plan.events())
                    .timeout(REQUEST_TIMEOUT)
                    .header("Content-Type", "application/json")
                    .header("Authorization", "Bearer " + plan.apiKey())
                    .POST(HttpRequest.BodyPublishers.ofString(body))
                    .build();
            inFlight.add(http.sendAsync(request, HttpResponse.BodyHandlers.discarding()).handle((response, failure) -> {
                long took = System.nanoTime() - intended;
                int status = failure != null ? -1 : response.statusCode();
                statuses.computeIfAbsent(status, s -> new AtomicLong()).incrementAndGet();
                if (status == 202) {
                    accepted.addAndGet(plan.batch());
                }
                synchronized (latency) {
                    latency.recordValue(Math.min(took, latency.getHighestTrackableValue()));
                }
                return null;
            }));
            if (inFlight.size() >= 10_000) {
                inFlight.removeIf(CompletableFuture::isDone);
            }
        }
        CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).join();
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<Integer, Long> counts = new java.util.TreeMap<>();
        statuses.forEach((s, n) -> counts.put(s, n.get()));
        return new Report(requests, accepted.get(), counts, seconds, plan.eventsPerSecond(), latency, maxLag);
    }

    private String body(Plan plan, UUID[] users, long r) {
        if (plan.batch() == 1) {
            return Json.write(event(users, r));
        }
        List<UsageEvent> batch = new ArrayList<>(plan.batch());
        for (int i = 0; i < plan.batch(); i++) {
            batch.add(event(users, r * plan.batch() + i));
        }
        return Json.write(batch);
    }

    private UsageEvent event(UUID[] users, long n) {
        int i = (int) (n % Integer.MAX_VALUE);
        return new UsageEvent("load-" + run + "-" + n, users[(int) (n % users.length)], Instant.now(),
                Provider.values()[i % 5], "/v1/chat/completions", "POST", i % 17 == 0 ? 429 : 200,
                40 + i % 900, 700 + i % 3000, 1500 + i % 20_000, i % 4000, 1 + i % 3);
    }
}
