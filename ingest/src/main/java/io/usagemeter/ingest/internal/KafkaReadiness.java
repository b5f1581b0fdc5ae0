package io.usagemeter.ingest.internal;

import io.usagemeter.kit.Health;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

/**
 * Answers "is Kafka reachable?" for {@code /health/ready}, asking the cluster at most once per
 * {@link #RECHECK_AFTER} so that frequent probes do not become a load of their own.
 */
public final class KafkaReadiness {

    static final Duration RECHECK_AFTER = Duration.ofSeconds(1);
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

    private final Admin admin;
    private long checkedAtNanos;
    private boolean ready;
    private boolean checked;

    public KafkaReadiness(Admin admin) {
        this.admin = admin;
    }

    /** Readiness's {@code kafka} check. */
    public Health.Result check() {
        return ready() ? Health.Result.up("cluster answered") : Health.Result.down("no broker answered within "
                + PROBE_TIMEOUT.toSeconds() + " s");
    }

    public synchronized boolean ready() {
        long now = System.nanoTime();
        if (!checked || now - checkedAtNanos >= RECHECK_AFTER.toNanos()) {
            ready = probe();
            checked = true;
            checkedAtNanos = System.nanoTime();
        }
        return ready;
    }

    private boolean probe() {
        try {
            var options = new DescribeClusterOptions().timeoutMs((int) PROBE_TIMEOUT.toMillis());
            return !admin.describeCluster(options).nodes().get(PROBE_TIMEOUT.toMillis() + 500, TimeUnit.MILLISECONDS).isEmpty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (Exception e) {
            return false;
        }
    }
}
