package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Property test: random sequences of events, resent events, late events and resets (inside, at the
 * edge of and before the dedupe window), in random order, give exactly the summaries of a plain
 * in-memory model of the contract. Each case is a
 * seed; a failure names it, and {@link #CASES} seeds are fixed so the suite is reproducible.
 *
 * <p>The model is deliberately naive: it keeps every accepted event and filters by each month's
 * final (latest) reset at the end, which is the order-independence the contract promises; the
 * topology instead recomputes incrementally from its stores.
 */
class AggregatorModelTest {

    private static final int CASES = 25;
    private static final Duration WINDOW = Duration.ofHours(6);
    /** Around the end of February 2028, so sequences cross the leap day into March. */
    private static final Instant START = Instant.parse("2028-02-24T00:00:00Z");
    private static final long SPAN_MS = Duration.ofDays(10).toMillis();

    @TempDir
    Path stateDirs;

    @TestFactory
    Stream<DynamicTest> summaries_equal_the_model() {
        return LongStream.range(0, CASES).mapToObj(seed -> DynamicTest.dynamicTest("seed " + seed, () -> check(seed)));
    }

    private void check(long seed) throws Exception {
        Random random = new Random(seed);
        List<Object> inputs = randomInputs(random);
        AggregatorConfig config = AggregatorConfig.fromEnv(Map.of(
                "METER_AGGREGATOR_DEDUPE_WINDOW", WINDOW.toString(),
                "METER_AGGREGATOR_STATE_DIR", Files.createTempDirectory(stateDirs, "case").toString()));
        Model model = new Model();
        try (AggregatorDriver driver = new AggregatorDriver(config)) {
            for (Object input : inputs) {
                if (input instanceof UsageEvent e) {
                    driver.send(e);
                    model.event(e);
                } else {
                    AdminCommand.ResetUsage r = (AdminCommand.ResetUsage) input;
                    driver.command(r.userId().toString(), r);
                    model.reset(r);
                }
            }
            Map<MonthlySummaryKey, MonthlySummary> expected = model.summaries();
            assertThat(driver.latest()).as("latest summary per key on the topic, seed %d", seed).isEqualTo(expected);
            expected.forEach((key, summary) -> assertThat(driver.stored(key.userId(), key.month()))
                    .as("store, seed %d, %s", seed, key).isEqualTo(summary));
        }
    }

    private static List<Object> randomInputs(Random random) {
        List<UUID> users = List.of(new UUID(seedBits(random), 1), new UUID(seedBits(random), 2), new UUID(seedBits(random), 3));
        List<UsageEvent> sent = new ArrayList<>();
        List<Object> inputs = new ArrayList<>();
        Instant latest = null;
        int size = 20 + random.nextInt(130);
        for (int i = 0; i < size; i++) {
            int dice = random.nextInt(100);
            UsageEvent e;
            if (dice < 15 && !sent.isEmpty()) {
                e = sent.get(random.nextInt(sent.size()));                     // resent as is
            } else if (dice < 22 && !sent.isEmpty()) {
                UsageEvent earlier = sent.get(random.nextInt(sent.size()));     // same id, another time
                e = withTime(earlier, randomTime(random));
            } else if (dice < 30) {
                UUID user = users.get(random.nextInt(users.size()));
                // Most near the latest event time (inside the window, or just before it), some anywhere.
                Instant at = random.nextBoolean() || latest == null ? randomTime(random)
                        : latest.plusMillis((long) ((random.nextDouble() * 2 - 1.5) * WINDOW.toMillis()));
                YearMonth month = YearMonth.from(at.atOffset(ZoneOffset.UTC));
                inputs.add(new AdminCommand.ResetUsage("reset-" + i, user, month, at, at, "admin@test"));
                continue;
            } else {
                e = newEvent(random, "evt-" + i, users.get(random.nextInt(users.size())));
            }
            sent.add(e);
            inputs.add(e);
            latest = latest == null || e.occurredAt().isAfter(latest) ? e.occurredAt() : latest;
        }
        return inputs;
    }

    private static long seedBits(Random random) {
        return random.nextLong();
    }

    private static Instant randomTime(Random random) {
        return START.plusMillis((long) (random.nextDouble() * SPAN_MS));
    }

    private static UsageEvent newEvent(Random random, String id, UUID user) {
        Provider[] providers = Provider.values();
        return new UsageEvent(id, user, randomTime(random), providers[random.nextInt(providers.length)], "/api", "GET",
                random.nextBoolean() ? 200 : 100 + random.nextInt(500), random.nextInt(5_000), random.nextInt(10_000),
                random.nextInt(100_000), random.nextInt(3) == 0 ? 0 : random.nextInt(4_000), 1 + random.nextInt(5));
    }

    private static UsageEvent withTime(UsageEvent e, Instant at) {
        return new UsageEvent(e.eventId(), e.userId(), at, e.provider(), e.endpoint(), e.method(), e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }

    /**
     * The contract, naively: remember everything, decide dedupe in arrival order, apply the latest
     * accepted reset at the end. An event is remembered at the latest event time once it is seen and
     * recognised for the window after; a reset is refused when it falls inside its month and before
     * the window (the events after it are no longer all remembered).
     */
    private static final class Model {
        private long highWater = Long.MIN_VALUE;
        private final Map<String, Long> rememberedAt = new HashMap<>();
        private final List<UsageEvent> accepted = new ArrayList<>();
        private final Map<MonthlySummaryKey, Instant> latestReset = new HashMap<>();

        void event(UsageEvent e) {
            highWater = Math.max(highWater, e.occurredAt().toEpochMilli());
            String id = e.userId() + "/" + e.eventId();
            Long at = rememberedAt.get(id);
            if (at == null || at < highWater - WINDOW.toMillis()) {
                rememberedAt.put(id, highWater);
                accepted.add(e);
            }
        }

        void reset(AdminCommand.ResetUsage r) {
            Instant monthStart = r.month().atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
            Instant monthEnd = r.month().plusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
            boolean beforeWindow = highWater != Long.MIN_VALUE
                    && r.resetAt().toEpochMilli() < highWater - WINDOW.toMillis();
            if (beforeWindow && !r.resetAt().isBefore(monthStart) && r.resetAt().isBefore(monthEnd)) {
                return;
            }
            latestReset.merge(new MonthlySummaryKey(r.userId(), r.month()), r.resetAt(),
                    (a, b) -> a.isAfter(b) ? a : b);
        }

        Map<MonthlySummaryKey, MonthlySummary> summaries() {
            Map<MonthlySummaryKey, MonthlySummary> result = new HashMap<>();
            latestReset.keySet().forEach(key -> result.put(key, MonthlySummary.empty(key)));
            for (UsageEvent e : accepted) {
                MonthlySummaryKey key = MonthlySummaryKey.of(e);
                Instant reset = latestReset.get(key);
                if (reset == null || e.occurredAt().isAfter(reset)) {
                    result.put(key, result.getOrDefault(key, MonthlySummary.empty(key)).plus(e));
                }
            }
            return result;
        }
    }
}
