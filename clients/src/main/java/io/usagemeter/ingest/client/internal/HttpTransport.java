package io.usagemeter.ingest.client.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * To the ingest service over HTTP: one sender thread collects events into JSON-array batches
 * (up to {@code batchSize}, waiting at most {@code linger} for a batch to fill) and posts them
 * with at most {@code maxInFlightRequests} requests outstanding.
 *
 * <p>Answers: 202 delivers the batch; 429, 5xx and network errors retry the whole batch (the
 * service dedupes by event id, so a batch Kafka partly took is safe to resend); 400 refuses the
 * events it lists and resends the others (a batch is all-or-nothing at the service); any other
 * 4xx (401, 403, 413, 415) refuses the batch.
 */
public final class HttpTransport implements Transport {

    /** Asks the sender to stop lingering; never sent. */
    private static final PendingEvent SEND_NOW = new PendingEvent(null, 0);

    private final HttpClient http;
    private final URI eventsUri;
    private final String authorization;
    private final int batchSize;
    private final Duration linger;
    private final Duration requestTimeout;
    private final Semaphore inFlight;
    private final int maxInFlightRequests;
    private final DeliveryOutcomes outcomes;
    private final BlockingQueue<PendingEvent> queue = new LinkedBlockingQueue<>();
    private final Thread sender;
    private volatile boolean closing;

    public HttpTransport(URI ingestUrl, String apiKey, int batchSize, Duration linger, int maxInFlightRequests,
                         Duration requestTimeout, DeliveryOutcomes outcomes) {
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        this.eventsUri = ingestUrl.resolve("/v1/events");
        this.authorization = "Bearer " + apiKey;
        this.batchSize = batchSize;
        this.linger = linger;
        this.requestTimeout = requestTimeout;
        this.maxInFlightRequests = maxInFlightRequests;
        this.inFlight = new Semaphore(maxInFlightRequests);
        this.outcomes = outcomes;
        this.sender = new Thread(this::sendBatches, "usage-client-http-sender");
        this.sender.setDaemon(true);
        this.sender.start();
    }

    @Override
    public void send(PendingEvent event) {
        queue.add(event);
    }

    @Override
    public void sendLingering() {
        queue.add(SEND_NOW);
    }

    private void sendBatches() {
        List<PendingEvent> batch = new ArrayList<>(batchSize);
        try {
            while (!closing || !queue.isEmpty()) {
                PendingEvent first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null || first == SEND_NOW) {
                    continue;
                }
                batch.add(first);
                long lingerEnds = System.nanoTime() + linger.toNanos();
                while (batch.size() < batchSize) {
                    queue.drainTo(batch, batchSize - batch.size());
                    if (batch.removeIf(e -> e == SEND_NOW) || batch.size() >= batchSize) {
                        break;
                    }
                    long remaining = lingerEnds - System.nanoTime();
                    PendingEvent next = remaining > 0 ? queue.poll(remaining, TimeUnit.NANOSECONDS) : null;
                    if (next == null || next == SEND_NOW) {
                        break;
                    }
                    batch.add(next);
                }
                inFlight.acquire();
                post(List.copyOf(batch));
                batch.clear();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void post(List<PendingEvent> batch) {
        List<UsageEvent> events = new ArrayList<>(batch.size());
        for (PendingEvent pending : batch) {
            events.add(pending.event());
        }
        HttpRequest request = HttpRequest.newBuilder(eventsUri)
                .timeout(requestTimeout)
                .header("Content-Type", "application/json")
                .header("Authorization", authorization)
                .POST(HttpRequest.BodyPublishers.ofString(Json.write(events)))
                .build();
        http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).whenComplete((response, error) -> {
            inFlight.release();
            if (error != null) {
                batch.forEach(e -> outcomes.retry(e, error, Duration.ZERO));
            } else {
                answered(batch, response);
            }
        });
    }

    private void answered(List<PendingEvent> batch, HttpResponse<String> response) {
        int status = response.statusCode();
        if (status == 202) {
            batch.forEach(outcomes::delivered);
        } else if (status == 429 || status >= 500) {
            IOException cause = new IOException("ingest answered " + status);
            Duration notBefore = retryAfter(response);
            batch.forEach(e -> outcomes.retry(e, cause, notBefore));
        } else if (status == 400) {
            refuseListed(batch, response.body());
        } else {
            IOException cause = new IOException("ingest answered " + status + ": " + response.body());
            batch.forEach(e -> outcomes.refused(e, "ingest refused the batch with " + status, cause));
        }
    }

    /** Refuses the events the 400 lists by index; the others were fine and go again. */
    private void refuseListed(List<PendingEvent> batch, String body) {
        Set<Integer> bad = new HashSet<>();
        try {
            for (JsonNode detail : Json.tree(body).path("details")) {
                if (detail.has("index")) {
                    bad.add(detail.get("index").asInt());
                }
            }
        } catch (IOException e) {
            // Unreadable error body: refuse the whole batch below rather than loop on it.
        }
        IOException cause = new IOException("ingest answered 400: " + body);
        for (int i = 0; i < batch.size(); i++) {
            if (bad.isEmpty() || bad.contains(i)) {
                outcomes.refused(batch.get(i), "ingest refused the event", cause);
            } else {
                send(batch.get(i));
            }
        }
    }

    private static Duration retryAfter(HttpResponse<?> response) {
        return response.headers().firstValue("Retry-After").map(value -> {
            try {
                return Duration.ofSeconds(Long.parseLong(value.strip()));
            } catch (NumberFormatException e) {
                return Duration.ZERO;
            }
        }).orElse(Duration.ZERO);
    }

    @Override
    public void close(Duration timeout) {
        closing = true;
        queue.add(SEND_NOW);
        try {
            sender.join(Math.max(1, timeout.toMillis()));
            // Wait for the last requests' answers (each bounded by the request timeout).
            if (inFlight.tryAcquire(maxInFlightRequests, timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                inFlight.release(maxInFlightRequests);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sender.interrupt();
    }
}
