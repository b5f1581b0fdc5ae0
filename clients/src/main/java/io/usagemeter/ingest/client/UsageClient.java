package io.usagemeter.ingest.client;

import io.usagemeter.ingest.client.internal.DeliveryOutcomes;
import io.usagemeter.ingest.client.internal.HttpTransport;
import io.usagemeter.ingest.client.internal.KafkaTransport;
import io.usagemeter.ingest.client.internal.PendingEvent;
import io.usagemeter.ingest.client.internal.Transport;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import io.usagemeter.schema.events.Violation;
import io.usagemeter.schema.topics.Topics;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Emits usage events from an app, batched and retried, either straight to Kafka
 * ({@link #toKafka}) or through the ingest service ({@link #overHttp}). Thread-safe.
 *
 * <p><b>Validation.</b> {@link #emit} checks the event against the same contract as the ingest
 * service ({@link UsageEventValidation}) and throws {@link InvalidUsageEventException} at once.
 *
 * <p><b>Bounded memory.</b> At most {@code maxPendingEvents} events are held undelivered. When
 * that many are pending, {@code emit} blocks for up to {@code maxBlock} for room, then throws
 * {@link UsageClientFullException}. Blocking briefly absorbs bursts; failing after the bound
 * keeps a dead sink from freezing the app's request threads (set {@code maxBlock} to zero to fail
 * fast at once).
 *
 * <p><b>Retries.</b> Network errors, 429/5xx answers and retriable Kafka errors are retried with
 * exponential backoff and jitter (honouring Retry-After) until {@code giveUpAfter} has passed
 * since the event was emitted; the event's future then fails with
 * {@link UsageDeliveryException}. Retries can deliver an event twice; the pipeline dedupes by
 * {@code event_id}, so every event must carry a stable id.
 *
 * <p>{@link #flush()} waits until every event emitted before it is delivered or failed;
 * {@link #close()} flushes (up to {@code closeTimeout}), then fails what is left.
 */
public final class UsageClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(UsageClient.class);
    /** A sink outage fails thousands of events at once: one log line per interval is enough. */
    private static final Duration RETRY_LOG_INTERVAL = Duration.ofSeconds(5);

    private final Settings settings;
    private final Transport transport;
    private final Semaphore room;
    private final Set<PendingEvent> pending = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService retries;
    private final AtomicLong lastRetryLogNanos = new AtomicLong(System.nanoTime() - RETRY_LOG_INTERVAL.toNanos());
    private volatile boolean closed;

    private UsageClient(Settings settings, TransportFactory transportFactory) {
        this.settings = settings;
        this.room = new Semaphore(settings.maxPendingEvents);
        this.retries = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "usage-client-retries");
            t.setDaemon(true);
            return t;
        });
        this.transport = transportFactory.create(new Outcomes());
    }

    /** A client that produces to Kafka directly. */
    public static Builder toKafka(String bootstrapServers) {
        return new Builder(Objects.requireNonNull(bootstrapServers, "bootstrapServers"), null, null);
    }

    /** A client that posts to the ingest service at {@code ingestUrl} with {@code apiKey}. */
    public static Builder overHttp(URI ingestUrl, String apiKey) {
        return new Builder(null, Objects.requireNonNull(ingestUrl, "ingestUrl"), Objects.requireNonNull(apiKey, "apiKey"));
    }

    /**
     * Validates and queues one event.
     *
     * @return completes when the sink acknowledged the event; fails with {@link UsageDeliveryException}
     * @throws InvalidUsageEventException when the event breaks the contract (not queued)
     * @throws UsageClientFullException when no room freed up within {@code maxBlock} (not queued)
     * @throws IllegalStateException after {@link #close()}
     */
    public CompletableFuture<Void> emit(UsageEvent event) {
        Objects.requireNonNull(event, "event");
        if (closed) {
            throw new IllegalStateException("usage client is closed");
        }
        List<Violation> violations = UsageEventValidation.check(event, settings.clock.instant(), settings.lateness);
        if (!violations.isEmpty()) {
            throw new InvalidUsageEventException(event.eventId(), violations);
        }
        try {
            if (!room.tryAcquire(settings.maxBlock.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new UsageClientFullException(settings.maxPendingEvents, settings.maxBlock.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UsageClientFullException(settings.maxPendingEvents, 0);
        }
        PendingEvent p = new PendingEvent(event, System.nanoTime());
        pending.add(p);
        transport.send(p);
        return p.delivered();
    }

    /** Events emitted and not yet delivered or failed. */
    public int pendingEvents() {
        return pending.size();
    }

    /** Waits until every event emitted before this call is delivered or has failed. */
    public void flush() {
        transport.sendLingering();
        awaitAll(List.copyOf(pending), null);
    }

    /** Flushes for at most {@link Builder#closeTimeout}, fails what is still pending, releases resources. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        transport.sendLingering();
        boolean drained = awaitAll(List.copyOf(pending), settings.closeTimeout);
        retries.shutdownNow();
        transport.close(drained ? Duration.ofSeconds(5) : Duration.ZERO);
        for (PendingEvent p : List.copyOf(pending)) {
            finish(p, new UsageDeliveryException("usage client closed before the event was delivered", null, true));
        }
    }

    private boolean awaitAll(List<PendingEvent> events, Duration timeout) {
        CompletableFuture<?> all = CompletableFuture.allOf(events.stream()
                .map(p -> p.delivered().handle((ok, error) -> null))
                .toArray(CompletableFuture[]::new));
        try {
            if (timeout == null) {
                all.get();
            } else {
                all.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (TimeoutException e) {
            return false;
        } catch (Exception e) {
            return true;
        }
    }

    private void finish(PendingEvent p, Throwable error) {
        if (pending.remove(p)) {
            room.release();
            if (error == null) {
                p.delivered().complete(null);
            } else {
                p.delivered().completeExceptionally(error);
            }
        }
    }

    private final class Outcomes implements DeliveryOutcomes {

        @Override
        public void delivered(PendingEvent event) {
            finish(event, null);
        }

        @Override
        public void refused(PendingEvent event, String reason, Throwable cause) {
            LOG.warn("usage event {} refused: {}", event.event().eventId(), reason);
            finish(event, new UsageDeliveryException(reason, cause, false));
        }

        @Override
        public void retry(PendingEvent event, Throwable cause, Duration notBefore) {
            int attempt = event.failedAttempt();
            long elapsed = System.nanoTime() - event.emittedAtNanos();
            if (elapsed >= settings.giveUpAfter.toNanos()) {
                finish(event, new UsageDeliveryException("not delivered within " + settings.giveUpAfter
                        + " after " + attempt + " attempts: " + cause, cause, true));
                return;
            }
            long backoff = Math.min(settings.maxBackoff.toMillis(),
                    settings.initialBackoff.toMillis() << Math.min(attempt - 1, 20));
            // Full jitter between half and the whole backoff spreads retries of many clients.
            long delay = Math.max(notBefore.toMillis(), backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
            long now = System.nanoTime();
            long last = lastRetryLogNanos.get();
            if (now - last >= RETRY_LOG_INTERVAL.toNanos() && lastRetryLogNanos.compareAndSet(last, now)) {
                LOG.info("usage event delivery failed ({}); retrying with backoff, {} events pending",
                        cause.toString(), pending.size());
            }
            try {
                retries.schedule(() -> transport.send(event), delay, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                finish(event, new UsageDeliveryException("usage client closed during retries", cause, true));
            }
        }
    }

    @FunctionalInterface
    private interface TransportFactory {
        Transport create(DeliveryOutcomes outcomes);
    }

    private record Settings(int maxPendingEvents, Duration maxBlock, Duration initialBackoff, Duration maxBackoff,
                            Duration giveUpAfter, Duration closeTimeout, Clock clock, Duration lateness) {}

    /** Configures a {@link UsageClient}; every setting has a default. */
    public static final class Builder {
        private final String bootstrapServers;
        private final URI ingestUrl;
        private final String apiKey;
        private int batchSize = 500;
        private Duration linger = Duration.ofMillis(5);
        private int maxPendingEvents = 100_000;
        private Duration maxBlock = Duration.ofSeconds(1);
        private Duration initialBackoff = Duration.ofMillis(100);
        private Duration maxBackoff = Duration.ofSeconds(10);
        private Duration giveUpAfter = Duration.ofMinutes(10);
        private Duration closeTimeout = Duration.ofSeconds(30);
        private int maxInFlightRequests = 4;
        private Duration requestTimeout = Duration.ofSeconds(30);
        private Clock clock = Clock.systemUTC();
        private Duration lateness = UsageEventValidation.DEFAULT_LATENESS;
        private final Properties kafkaOverrides = new Properties();

        private Builder(String bootstrapServers, URI ingestUrl, String apiKey) {
            this.bootstrapServers = bootstrapServers;
            this.ingestUrl = ingestUrl;
            this.apiKey = apiKey;
        }

        /** Events per HTTP request (default 500; keep within the service's batch limit). Kafka batches by bytes. */
        public Builder batchSize(int events) {
            this.batchSize = requirePositive(events, "batchSize");
            return this;
        }

        /** How long a batch may wait to fill up (default 5 ms). */
        public Builder linger(Duration linger) {
            this.linger = Objects.requireNonNull(linger);
            return this;
        }

        /** Most events held undelivered (default 100,000): the client's memory bound. */
        public Builder maxPendingEvents(int events) {
            this.maxPendingEvents = requirePositive(events, "maxPendingEvents");
            return this;
        }

        /** How long {@code emit} waits for room when full before throwing (default 1 s; zero fails at once). */
        public Builder maxBlock(Duration maxBlock) {
            this.maxBlock = Objects.requireNonNull(maxBlock);
            return this;
        }

        /** Backoff of the first retry, doubled per attempt up to {@code max} (defaults 100 ms and 10 s). */
        public Builder backoff(Duration initial, Duration max) {
            this.initialBackoff = Objects.requireNonNull(initial);
            this.maxBackoff = Objects.requireNonNull(max);
            return this;
        }

        /** How long an event is retried after it was emitted before its future fails (default 10 min). */
        public Builder giveUpAfter(Duration giveUpAfter) {
            this.giveUpAfter = Objects.requireNonNull(giveUpAfter);
            return this;
        }

        /** How long {@link UsageClient#close()} waits for pending events (default 30 s). */
        public Builder closeTimeout(Duration closeTimeout) {
            this.closeTimeout = Objects.requireNonNull(closeTimeout);
            return this;
        }

        /** HTTP only: concurrent requests (default 4) and the timeout of each (default 30 s). */
        public Builder requests(int maxInFlight, Duration timeout) {
            this.maxInFlightRequests = requirePositive(maxInFlight, "maxInFlightRequests");
            this.requestTimeout = Objects.requireNonNull(timeout);
            return this;
        }

        /** The clock and lateness bound used to validate events (defaults: UTC system clock, 35 days). */
        public Builder validation(Clock clock, Duration lateness) {
            this.clock = Objects.requireNonNull(clock);
            this.lateness = Objects.requireNonNull(lateness);
            return this;
        }

        /** Kafka only: producer settings on top of the client's (e.g. security settings). */
        public Builder kafkaProperty(String name, Object value) {
            kafkaOverrides.put(name, value);
            return this;
        }

        public UsageClient build() {
            Settings settings = new Settings(maxPendingEvents, maxBlock, initialBackoff, maxBackoff, giveUpAfter,
                    closeTimeout, clock, lateness);
            if (bootstrapServers != null) {
                Properties producer = producerProperties();
                return new UsageClient(settings, outcomes -> new KafkaTransport(producer, Topics.USAGE_EVENTS, outcomes));
            }
            return new UsageClient(settings, outcomes -> new HttpTransport(ingestUrl, apiKey, batchSize, linger,
                    maxInFlightRequests, requestTimeout, outcomes));
        }

        /** Idempotent with acks=all; send() blocks at most maxBlock, matching emit's bound. */
        private Properties producerProperties() {
            Properties p = new Properties();
            p.putAll(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                    ProducerConfig.CLIENT_ID_CONFIG, "usage-client",
                    ProducerConfig.ACKS_CONFIG, "all",
                    ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                    ProducerConfig.LINGER_MS_CONFIG, (int) linger.toMillis(),
                    ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024,
                    ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4",
                    ProducerConfig.MAX_BLOCK_MS_CONFIG, maxBlock.toMillis(),
                    ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 1000));
            p.putAll(kafkaOverrides);
            return p;
        }

        private static int requirePositive(int value, String name) {
            if (value < 1) {
                throw new IllegalArgumentException(name + " must be at least 1, was " + value);
            }
            return value;
        }
    }
}
