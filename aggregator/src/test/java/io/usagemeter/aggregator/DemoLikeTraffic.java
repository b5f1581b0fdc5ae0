package io.usagemeter.aggregator;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The traffic of {@code meter dev --demo} (cli's {@code DemoTraffic}), rebuilt test-side for a seed and a
 * {@code now}: each user's events spread over the current month up to {@code now} and half as many units over the
 * 30 days before it, sorted by event time; about 5 % sent late, after everything else; about 3 % sent a second
 * time (the same event) within 200 events of the first copy. Event ids depend on the seed, the user and the
 * event's rank only, as in the demo, so a second run with a later {@code now} sends the same ids again at other
 * times (what a second {@code meter dev --demo} on the same data directory does).
 */
final class DemoLikeTraffic {

    private static final int MAX_RETRY_DISTANCE = 200;

    final List<UUID> users = new ArrayList<>();
    /** In the order sent: first copies, late ones, and resends. */
    final List<UsageEvent> sendOrder = new ArrayList<>();
    /** Units of the current month per user. */
    final Map<UUID, Long> currentMonthUnits = new HashMap<>();
    final YearMonth currentMonth;

    DemoLikeTraffic(long seed, int userCount, Instant now) {
        for (int i = 0; i < userCount; i++) {
            users.add(UUID.nameUUIDFromBytes(("demo-like user " + seed + "/" + i).getBytes(StandardCharsets.UTF_8)));
        }
        Random random = new Random(seed);
        currentMonth = YearMonth.from(now.atOffset(ZoneOffset.UTC));
        Instant monthStart = currentMonth.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        Instant previousMonthStart = currentMonth.minusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        Instant previousFrom = previousMonthStart.isAfter(now.minus(Duration.ofDays(30)))
                ? previousMonthStart : now.minus(Duration.ofDays(30));
        List<UsageEvent> events = new ArrayList<>();
        for (UUID user : users) {
            long target = targetUnits(random);
            long units = 0;
            int n = 0;
            while (units < target) {
                UsageEvent e = event(random, seed, user, between(random, monthStart, now.minusSeconds(60)), "c" + n++);
                units += e.units();
                events.add(e);
            }
            currentMonthUnits.put(user, units);
            long previous = target / 2;
            for (long u = 0; u < previous && previousFrom.isBefore(monthStart); ) {
                UsageEvent e = event(random, seed, user, between(random, previousFrom, monthStart.minusSeconds(1)),
                        "p" + n++);
                u += e.units();
                events.add(e);
            }
        }
        events.sort(Comparator.comparing(UsageEvent::occurredAt));
        List<UsageEvent> late = new ArrayList<>();
        List<UsageEvent> onTime = new ArrayList<>();
        for (UsageEvent e : events) {
            (random.nextInt(100) < 5 ? late : onTime).add(e);
        }
        List<UsageEvent> firstCopies = new ArrayList<>(onTime);
        firstCopies.addAll(late);
        Map<Integer, List<UsageEvent>> retriesDue = new TreeMap<>();
        for (int i = 0; i < firstCopies.size(); i++) {
            UsageEvent e = firstCopies.get(i);
            sendOrder.add(e);
            if (random.nextInt(100) < 3) {
                retriesDue.computeIfAbsent(i + 1 + random.nextInt(MAX_RETRY_DISTANCE), k -> new ArrayList<>()).add(e);
            }
            sendOrder.addAll(retriesDue.getOrDefault(i, List.of()));
            retriesDue.remove(i);
        }
        retriesDue.values().forEach(sendOrder::addAll);
    }

    /** The user with the most units this month (the one the demo's admin resets), ties to the smaller id. */
    UUID heaviest() {
        return currentMonthUnits.entrySet().stream().max(Map.Entry.<UUID, Long>comparingByValue()
                .thenComparing(Map.Entry.comparingByKey())).orElseThrow().getKey();
    }

    private static long targetUnits(Random random) {
        int bucket = random.nextInt(100);
        if (bucket < 60) {
            return 20 + random.nextInt(280);
        }
        if (bucket < 85) {
            return 300 + random.nextInt(490);
        }
        if (bucket < 95) {
            return 800 + random.nextInt(199);
        }
        return 1000 + random.nextInt(400);
    }

    private static UsageEvent event(Random random, long seed, UUID user, Instant at, String suffix) {
        Provider provider = Provider.values()[random.nextInt(Provider.values().length)];
        boolean failed = random.nextInt(100) < 7;
        int status = failed ? 500 : 200;
        long tokens = failed ? 0 : 50 + random.nextInt(4_000);
        return new UsageEvent("demo-" + seed + "-" + user.toString().substring(0, 8) + "-" + suffix, user, at, provider,
                "/v1/chat/completions", "POST", status, 30 + random.nextInt(2_500), 200 + random.nextInt(4_000),
                500 + random.nextInt(20_000), tokens, 1 + random.nextInt(5));
    }

    private static Instant between(Random random, Instant from, Instant to) {
        long span = Math.max(1, to.getEpochSecond() - from.getEpochSecond());
        return from.plusSeconds((long) (random.nextDouble() * span));
    }
}
