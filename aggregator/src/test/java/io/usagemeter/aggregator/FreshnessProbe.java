package io.usagemeter.aggregator;

import io.usagemeter.schema.jooq.Tables;
import java.sql.Connection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;

/**
 * Measures freshness: from sending an event of a user seen for the first time to that user's row
 * being visible in {@code monthly_usage_summary} (through the stream) and in {@code api_usage}
 * (straight from the events topic). Polls every 20 ms on a thread of its own; reports, never asserts.
 */
final class FreshnessProbe implements AutoCloseable {

    private static final long POLL_MS = 20;

    private final DataSource dataSource;
    private final Map<UUID, Long> pendingSummary = new ConcurrentHashMap<>();
    private final Map<UUID, Long> pendingEvent = new ConcurrentHashMap<>();
    private final List<Long> summaryMs = new ArrayList<>();
    private final List<Long> eventMs = new ArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;

    FreshnessProbe(DataSource dataSource) {
        this.dataSource = dataSource;
        this.thread = new Thread(this::run, "e2e-freshness-probe");
        thread.setDaemon(true);
        thread.start();
    }

    /** Called when the probe user's first event was handed to the producer. */
    void sent(UUID probeUser) {
        long now = System.nanoTime();
        pendingSummary.put(probeUser, now);
        pendingEvent.put(probeUser, now);
    }

    private void run() {
        while (running) {
            try {
                poll(pendingSummary, Tables.MONTHLY_USAGE_SUMMARY.USER_ID, summaryMs);
                poll(pendingEvent, Tables.API_USAGE.USER_ID, eventMs);
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                // The database may be down (outage tests): try again at the next poll.
            }
        }
    }

    private void poll(Map<UUID, Long> pending, org.jooq.TableField<?, UUID> userColumn, List<Long> measured)
            throws Exception {
        if (pending.isEmpty()) {
            return;
        }
        Set<UUID> users = Set.copyOf(pending.keySet());
        List<UUID> visible;
        try (Connection c = dataSource.getConnection()) {
            visible = DSL.using(c, SQLDialect.POSTGRES).selectDistinct(userColumn).from(userColumn.getTable())
                    .where(userColumn.in(users)).fetch(userColumn);
        }
        long now = System.nanoTime();
        for (UUID user : visible) {
            Long sentAt = pending.remove(user);
            if (sentAt != null) {
                synchronized (measured) {
                    measured.add(TimeUnit.NANOSECONDS.toMillis(now - sentAt));
                }
            }
        }
    }

    /** {@code n, p50, max} in ms, per table. */
    String report() {
        return "summary row visible " + stats(summaryMs) + ", api_usage row visible " + stats(eventMs)
                + " (ms after send, polled every " + POLL_MS + " ms)";
    }

    private static String stats(List<Long> values) {
        synchronized (values) {
            if (values.isEmpty()) {
                return "n=0";
            }
            List<Long> sorted = values.stream().sorted().toList();
            return "n=" + sorted.size() + " p50=" + sorted.get(sorted.size() / 2) + " max=" + sorted.get(sorted.size() - 1);
        }
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        thread.interrupt();
        thread.join(2_000);
    }
}
