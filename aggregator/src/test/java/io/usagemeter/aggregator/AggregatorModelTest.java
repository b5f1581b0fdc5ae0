package io.usagemeter.aggregator;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.events.UsageEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
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
 * Property test: random sequences of new events, resends, late events and resets give exactly the
 * summaries of {@link UsageReference}, a model written from the contract and not from production code.
 *
 * <p>The inputs come in <em>epochs</em> of event time, each a quarter dedupe window long and three
 * windows after the one before, so every dedupe decision is the same under any reading of "within
 * the window": a copy sent in the epoch its id was counted in is a duplicate (the same event time, or
 * both in that epoch); a copy with a new time in a later epoch counts again (it is more than two
 * windows later however time is measured). Copies that would fall between those (a stale copy with
 * its old time, sent an epoch later) are not generated: the contract does not decide them. Resets fall
 * in the current epoch (always inside the window) and name their own month, an earlier one (it
 * empties) or the next one (refused by the reset horizon). The epochs cross 29 February 2028 into
 * March. Each seed is run in its generated order and in {@link #ORDERS} other orders that shuffle
 * users against each other inside each epoch (each user's own order kept).
 *
 * <p>Each case is a fixed seed, so the suite is reproducible; a failure names the seed and the
 * order and shrinks the inputs to a smallest sequence that still fails.
 */
class AggregatorModelTest {

    private static final int CASES = 25;
    private static final int ORDERS = 2;
    private static final Duration WINDOW = Duration.ofHours(6);
    private static final long EPOCH_SPAN_MS = WINDOW.toMillis() / 4;
    private static final long EPOCH_GAP_MS = WINDOW.toMillis() * 3;
    private static final int EPOCHS = 8;
    /** Epoch 0 on 27 February 2028; epoch 7 five days and six hours later, in March. */
    private static final Instant START = Instant.parse("2028-02-27T09:00:00Z");

    @TempDir
    Path stateDirs;

    /** One input as sent: an event or a reset, tagged with the epoch it is sent in; or a publication. */
    private sealed interface Input permits Sent, Reset, Publish {
    }

    private record Sent(UsageEvent event, int epoch) implements Input {
    }

    private record Reset(AdminCommand.ResetUsage reset, int epoch) implements Input {
    }

    private record Publish() implements Input {
    }

    @TestFactory
    Stream<DynamicTest> summaries_equal_the_model() {
        return LongStream.range(0, CASES).boxed().flatMap(seed -> LongStream.rangeClosed(0, ORDERS)
                .mapToObj(order -> DynamicTest.dynamicTest("seed " + seed + " order " + order, () -> {
                    List<Input> inputs = randomInputs(new Random(seed));
                    if (order > 0) {
                        inputs = interleaved(inputs, new Random(seed * 31 + order));
                    }
                    check(seed, order, inputs);
                })));
    }

    private void check(long seed, long order, List<Input> inputs) throws Exception {
        // Odd seeds hold only a few events on the heap: most of the dedupe memory is spilled to disk, so its
        // runs, filters and dropped segments decide (and recompute resets) against the same model.
        int heapEvents = seed % 2 == 0 ? AggregatorConfig.DEFAULT_DEDUPE_HEAP_EVENTS : 1 + (int) (seed % 7);
        String failure = failure(inputs, heapEvents);
        if (failure == null) {
            return;
        }
        List<Input> smallest = shrink(inputs, heapEvents);
        throw new AssertionError("seed " + seed + " order " + order + ", " + heapEvents + " events on the heap: " + failure
                + "\nshrunk from " + inputs.size() + " to " + smallest.size() + " inputs that still fail:\n"
                + describe(smallest) + "\n" + failure(smallest, heapEvents));
    }

    /** Why production disagrees with the model on {@code inputs}, or null when it agrees. */
    private String failure(List<Input> inputs, int heapEvents) throws Exception {
        Map<MonthlySummaryKey, MonthlySummary> expected = model(inputs);
        if (expected == null) {
            throw new IllegalStateException("generated a sequence the contract does not decide");
        }
        AggregatorConfig config = AggregatorConfig.fromEnv(Map.of(
                "METER_AGGREGATOR_DEDUPE_WINDOW", WINDOW.toString(),
                "METER_AGGREGATOR_DEDUPE_HEAP_EVENTS", Integer.toString(heapEvents),
                "METER_AGGREGATOR_STATE_DIR", Files.createTempDirectory(stateDirs, "case").toString()));
        try (AggregatorDriver driver = new AggregatorDriver(config)) {
            for (Input input : inputs) {
                if (input instanceof Sent s) {
                    driver.send(s.event());
                } else if (input instanceof Reset r) {
                    driver.command(r.reset().userId().toString(), r.reset());
                } else {
                    driver.publish();
                }
            }
            Map<MonthlySummaryKey, MonthlySummary> published = driver.latest();
            if (!published.equals(expected)) {
                return "published summaries differ from the model:\n  published " + published + "\n  expected  " + expected;
            }
            for (Map.Entry<MonthlySummaryKey, MonthlySummary> e : expected.entrySet()) {
                MonthlySummary stored = driver.stored(e.getKey().userId(), e.getKey().month());
                if (!e.getValue().equals(stored)) {
                    return "stored summary of " + e.getKey() + " is " + stored + ", expected " + e.getValue();
                }
            }
            return null;
        }
    }

    /**
     * The model's summaries for {@code inputs}, or null when the contract does not decide them (only reachable
     * while shrinking). The stream's time is the latest event time sent so far, in the order sent: a copy is a
     * duplicate when that time is in the epoch in which its id was counted (and the copy has the counted time,
     * or both times are in that epoch); it counts again when that time is epochs later and the copy's own time
     * is in that later epoch. A reset is decided when its instant is at most a quarter window before that time.
     */
    private static Map<MonthlySummaryKey, MonthlySummary> model(List<Input> inputs) {
        UsageReference reference = new UsageReference(ResetHorizon.DEFAULT_MONTHS);
        Map<String, Counted> countedCopy = new HashMap<>();
        Instant streamTime = null;
        for (Input input : inputs) {
            if (input instanceof Reset r) {
                Instant at = r.reset().resetAt();
                if (streamTime != null && at.isBefore(streamTime.minusMillis(EPOCH_SPAN_MS))) {
                    return null;
                }
                reference.reset(r.reset().userId(), r.reset().month(), at);
            } else if (input instanceof Sent s) {
                UsageEvent e = s.event();
                streamTime = streamTime == null || e.occurredAt().isAfter(streamTime) ? e.occurredAt() : streamTime;
                int now = epochOf(streamTime);
                String id = e.userId() + "/" + e.eventId();
                Counted counted = countedCopy.get(id);
                if (counted == null) {
                    reference.countOnce(e);
                    countedCopy.put(id, new Counted(e.occurredAt(), now));
                } else if (counted.seenInEpoch() == now) {
                    boolean sameTime = counted.occurredAt().equals(e.occurredAt());
                    boolean bothInEpoch = epochOf(e.occurredAt()) == now && epochOf(counted.occurredAt()) == now;
                    if (!sameTime && !bothInEpoch) {
                        return null;
                    }
                } else if (epochOf(e.occurredAt()) == now) {
                    reference.count(e);
                    countedCopy.put(id, new Counted(e.occurredAt(), now));
                } else {
                    return null;
                }
            }
        }
        return reference.summaries();
    }

    /** The copy of an id that was counted: its event time, and the epoch of the stream's time when it was sent. */
    private record Counted(Instant occurredAt, int seenInEpoch) {
    }

    private static List<Input> randomInputs(Random random) {
        List<UUID> users = List.of(new UUID(random.nextLong(), 1), new UUID(random.nextLong(), 2),
                new UUID(random.nextLong(), 3));
        List<Input> inputs = new ArrayList<>();
        Map<String, Sent> countedCopy = new LinkedHashMap<>();
        int next = 0;
        for (int epoch = 0; epoch < EPOCHS; epoch++) {
            // Each epoch opens with an event of its own time, so the stream's time is in the epoch from its start.
            UsageEvent opener = newEvent(random, "evt-" + next++, pick(random, users), timeIn(random, epoch));
            Sent opened = new Sent(opener, epoch);
            inputs.add(opened);
            countedCopy.put(opener.userId() + "/" + opener.eventId(), opened);
            int size = 3 + random.nextInt(20);
            for (int i = 0; i < size; i++) {
                int dice = random.nextInt(100);
                int current = epoch;
                List<Sent> countedHere = countedCopy.values().stream().filter(s -> s.epoch() == current).toList();
                List<Sent> countedBefore = countedCopy.values().stream().filter(s -> s.epoch() < current).toList();
                UsageEvent e;
                if (dice < 15 && !countedHere.isEmpty()) {
                    e = pick(random, countedHere).event();                                  // resent as is
                } else if (dice < 22 && !countedHere.isEmpty()) {
                    UsageEvent earlier = pick(random, countedHere).event();
                    if (epochOf(earlier.occurredAt()) != epoch) {
                        continue;
                    }
                    e = withTime(earlier, timeIn(random, epoch));                           // same id, another time
                } else if (dice < 30 && !countedBefore.isEmpty()) {
                    e = withTime(pick(random, countedBefore).event(), timeIn(random, epoch)); // again, windows later
                } else if (dice < 40 && epoch > 0) {
                    e = newEvent(random, "evt-" + next++, pick(random, users), timeIn(random, random.nextInt(epoch)));
                } else if (dice < 48) {
                    Instant at = timeIn(random, epoch);
                    YearMonth own = YearMonth.from(at.atOffset(ZoneOffset.UTC));
                    YearMonth month = own.plusMonths(random.nextInt(3) - 1L);
                    inputs.add(new Reset(new AdminCommand.ResetUsage("reset-" + next++, pick(random, users), month, at,
                            at, "admin@test"), epoch));
                    continue;
                } else if (dice < 52) {
                    inputs.add(new Publish());
                    continue;
                } else {
                    e = newEvent(random, "evt-" + next++, pick(random, users), timeIn(random, epoch));
                }
                Sent sent = new Sent(e, epoch);
                inputs.add(sent);
                String id = e.userId() + "/" + e.eventId();
                Sent counted = countedCopy.get(id);
                if (counted == null || counted.epoch() < epoch) {
                    countedCopy.put(id, sent);
                }
            }
        }
        return inputs;
    }

    /**
     * The same inputs with the users shuffled against each other inside each epoch: each user's own
     * inputs keep their order, the epoch's opener stays first; publications move with the rest.
     */
    private static List<Input> interleaved(List<Input> inputs, Random random) {
        List<Input> result = new ArrayList<>();
        int from = 0;
        while (from < inputs.size()) {
            int epoch = epochOfInput(inputs, from);
            int to = from;
            while (to < inputs.size() && epochOfInput(inputs, to) == epoch) {
                to++;
            }
            result.add(inputs.get(from)); // the epoch's opener stays first
            Map<Object, List<Input>> byUser = new LinkedHashMap<>();
            List<Object> slots = new ArrayList<>();
            for (Input input : inputs.subList(from + 1, to)) {
                Object owner = input instanceof Sent s ? s.event().userId()
                        : input instanceof Reset r ? r.reset().userId() : new Object();
                byUser.computeIfAbsent(owner, o -> new ArrayList<>()).add(input);
                slots.add(owner);
            }
            Collections.shuffle(slots, random);
            Map<Object, Integer> taken = new HashMap<>();
            for (Object owner : slots) {
                int index = taken.merge(owner, 1, Integer::sum) - 1;
                result.add(byUser.get(owner).get(index));
            }
            from = to;
        }
        return result;
    }

    /** The epoch of the input at {@code index}; a publication belongs to the epoch before it. */
    private static int epochOfInput(List<Input> inputs, int index) {
        for (int i = index; i >= 0; i--) {
            Input input = inputs.get(i);
            if (input instanceof Sent s) {
                return s.epoch();
            }
            if (input instanceof Reset r) {
                return r.epoch();
            }
        }
        return 0;
    }

    /** Removes inputs one at a time, from the end, while the rest still fails and the contract still decides it. */
    private List<Input> shrink(List<Input> inputs, int heapEvents) throws Exception {
        List<Input> current = new ArrayList<>(inputs);
        boolean removed = true;
        while (removed) {
            removed = false;
            for (int i = current.size() - 1; i >= 0; i--) {
                List<Input> candidate = new ArrayList<>(current);
                candidate.remove(i);
                if (model(candidate) != null && failure(candidate, heapEvents) != null) {
                    current = candidate;
                    removed = true;
                }
            }
        }
        return current;
    }

    private static String describe(List<Input> inputs) {
        StringBuilder text = new StringBuilder();
        for (Input input : inputs) {
            if (input instanceof Sent s) {
                UsageEvent e = s.event();
                text.append("  epoch ").append(s.epoch()).append(" event ").append(e.eventId()).append(" user ")
                        .append(e.userId()).append(" at ").append(e.occurredAt()).append(" units ").append(e.units())
                        .append('\n');
            } else if (input instanceof Reset r) {
                text.append("  epoch ").append(r.epoch()).append(" reset ").append(r.reset().month()).append(" user ")
                        .append(r.reset().userId()).append(" at ").append(r.reset().resetAt()).append('\n');
            } else {
                text.append("  publish\n");
            }
        }
        return text.toString();
    }

    private static <T> T pick(Random random, List<T> from) {
        return from.get(random.nextInt(from.size()));
    }

    private static Instant timeIn(Random random, int epoch) {
        return START.plusMillis(epoch * EPOCH_GAP_MS + (long) (random.nextDouble() * EPOCH_SPAN_MS));
    }

    /** The epoch whose span holds {@code at}, or -1 when it falls between epochs. */
    private static int epochOf(Instant at) {
        long sinceStart = at.toEpochMilli() - START.toEpochMilli();
        long epoch = Math.floorDiv(sinceStart, EPOCH_GAP_MS);
        return sinceStart - epoch * EPOCH_GAP_MS < EPOCH_SPAN_MS ? (int) epoch : -1;
    }

    private static UsageEvent newEvent(Random random, String id, UUID user, Instant at) {
        Provider[] providers = Provider.values();
        return new UsageEvent(id, user, at, providers[random.nextInt(providers.length)], "/api", "GET",
                random.nextBoolean() ? 200 : 100 + random.nextInt(500), random.nextInt(5_000), random.nextInt(10_000),
                random.nextInt(100_000), random.nextInt(3) == 0 ? 0 : random.nextInt(4_000), 1 + random.nextInt(5));
    }

    private static UsageEvent withTime(UsageEvent e, Instant at) {
        return new UsageEvent(e.eventId(), e.userId(), at, e.provider(), e.endpoint(), e.method(), e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }
}
