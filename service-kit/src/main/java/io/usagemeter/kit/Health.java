package io.usagemeter.kit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The one health shape of every service, for {@code /health/live} and {@code /health/ready}:
 * {@code {"status": "UP", "checks": {"kafka": {"status": "UP", "detail": "..."}}}} with 200, or
 * with 503 {@code {"status": "DOWN", "error": "not ready", "details": ["kafka: ..."], "checks": {...}}},
 * which is also the error shape.
 */
public final class Health {

    private Health() {
    }

    /** The outcome of one check: up or down, and what it saw. */
    public record Result(boolean up, String detail) {
        public static Result up(String detail) {
            return new Result(true, detail);
        }

        public static Result down(String detail) {
            return new Result(false, detail);
        }

        public static Result of(boolean up, String detail) {
            return new Result(up, detail);
        }
    }

    /** A named check, asked on every probe of its endpoint. */
    public record Check(String name, Supplier<Result> probe) {
        public Check {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(probe, "probe");
        }

        public static Check of(String name, Supplier<Result> probe) {
            return new Check(name, probe);
        }

        /** This check asked at most once per {@code interval}: probes of a remote system are not a load of their own. */
        public Check cachedFor(Duration interval) {
            return new Check(name, new CachedProbe(probe, interval));
        }
    }

    /** The body of a health answer and its status code. */
    public record Report(int status, Map<String, Object> body) {}

    /** Asks every check; 200 when all are up (or there are none), 503 with the reasons otherwise. */
    public static Report evaluate(List<Check> checks, String downError) {
        Map<String, Object> results = new LinkedHashMap<>();
        List<String> reasons = new ArrayList<>();
        for (Check check : checks) {
            Result result;
            try {
                result = check.probe().get();
            } catch (RuntimeException e) {
                result = Result.down("check failed: " + e);
            }
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("status", result.up() ? "UP" : "DOWN");
            if (result.detail() != null) {
                entry.put("detail", result.detail());
            }
            results.put(check.name(), entry);
            if (!result.up()) {
                reasons.add(check.name() + ": " + result.detail());
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", reasons.isEmpty() ? "UP" : "DOWN");
        if (!reasons.isEmpty()) {
            body.put("error", downError);
            body.put("details", reasons);
        }
        body.put("checks", results);
        return new Report(reasons.isEmpty() ? 200 : 503, body);
    }

    private static final class CachedProbe implements Supplier<Result> {
        private final Supplier<Result> probe;
        private final long intervalNanos;
        private long askedAt;
        private Result last;

        CachedProbe(Supplier<Result> probe, Duration interval) {
            this.probe = probe;
            this.intervalNanos = interval.toNanos();
        }

        @Override
        public synchronized Result get() {
            long now = System.nanoTime();
            if (last == null || now - askedAt >= intervalNanos) {
                last = probe.get();
                askedAt = System.nanoTime();
            }
            return last;
        }
    }
}
