package io.usagemeter.cli.dev;

import io.usagemeter.schema.config.ApiAccess;
import io.usagemeter.schema.config.MeterEnvironment;
import com.fasterxml.jackson.databind.JsonNode;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.ReferralEvent;
import io.usagemeter.schema.events.ReferralStatus;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.json.Json;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Realistic sample traffic over the public HTTP API (product.md): a few hundred users over the
 * current and the previous month, every provider, some failed calls, duplicate sends, late events,
 * completed referrals and one admin reset. It keeps its own model of what the enforcer must end up
 * with ({@link #expectedUsed()}), so a run can be checked against {@code GET /v1/limits}.
 *
 * <p>Deterministic for a seed and a clock, so {@code meter load} (bench) can replay the same mix.
 */
public final class DemoTraffic {

    /** How much traffic: users, seed, events per request, and a pace that keeps the display watchable. */
    public record Settings(int users, long seed, int batchSize, int eventsPerSecond) {
        public static Settings defaults() {
            return new Settings(300, 42, 200, 5_000);
        }

        /** The defaults for the {@code n}-th run on one data directory (from 0): other users and event ids each run. */
        public static Settings forRun(int n) {
            Settings d = defaults();
            return new Settings(d.users(), d.seed() + n, d.batchSize(), d.eventsPerSecond());
        }
    }

    /** Where to send it, with the dev stack's credentials. */
    public record Endpoints(URI ingest, URI enforcer, String apiKey, String adminToken) {
        public static Endpoints fromEnvironment(Map<String, String> env) {
            ApiAccess access = ApiAccess.from(MeterEnvironment.of(env));
            return new Endpoints(access.ingestUrl(), access.enforcerUrl(), access.apiKey(), access.adminToken());
        }
    }

    /** What the progress line shows. */
    public record Progress(long eventsSent, double eventsPerSecond, int usersOver80, int usersOver100, boolean done) {}

    /** One user's current month as the enforcer answers it. */
    public record UserLimit(UUID userId, long used, long effectiveLimit, String state) {}

    /** What a run did and the enforcer's final answers, most used first. */
    public record Summary(long eventsSent, long duplicatesSent, long lateSent, int referralsCompleted, UUID resetUser,
                          long refused, boolean caughtUp, List<UserLimit> limits) {
        public List<UserLimit> top(int n) {
            return limits.subList(0, Math.min(n, limits.size()));
        }
    }

    private static final List<Provider> PROVIDERS = List.of(Provider.OPENAI, Provider.OPENAI, Provider.ANTHROPIC,
            Provider.ANTHROPIC, Provider.GITHUB, Provider.GITHUB, Provider.GEMINI, Provider.OTHER);
    private static final Map<Provider, List<String>> ENDPOINTS = Map.of(
            Provider.OPENAI, List.of("/v1/chat/completions", "/v1/embeddings", "/v1/responses"),
            Provider.ANTHROPIC, List.of("/v1/messages", "/v1/messages/count_tokens"),
            Provider.GITHUB, List.of("/repos/{owner}/{repo}", "/user", "/search/code", "/repos/{owner}/{repo}/pulls"),
            Provider.GEMINI, List.of("/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models:embedContent"),
            Provider.OTHER, List.of("/v1/geocode", "/v1/translate"));
    private static final int[] ERROR_STATUSES = {400, 401, 403, 404, 429, 429, 500, 502, 503};
    private static final Duration CATCH_UP_TIMEOUT = Duration.ofSeconds(90);
    /** A retried event is sent again within this many events after its first copy. */
    private static final int MAX_RETRY_DISTANCE = 200;

    private final Settings settings;
    private final Endpoints endpoints;
    private final Clock clock;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final List<UUID> users = new ArrayList<>();
    private final Map<UUID, Long> expectedUsed = new HashMap<>();
    private final Map<UUID, String> lastState = new HashMap<>();

    public DemoTraffic(Settings settings, Endpoints endpoints, Clock clock) {
        this.settings = settings;
        this.endpoints = endpoints;
        this.clock = clock;
        for (int i = 0; i < settings.users(); i++) {
            users.add(UUID.nameUUIDFromBytes(("usage-meter demo user " + settings.seed() + "/" + i).getBytes(StandardCharsets.UTF_8)));
        }
    }

    public List<UUID> users() {
        return List.copyOf(users);
    }

    /** Units of the current month the enforcer must report per user once the run is done. */
    public Map<UUID, Long> expectedUsed() {
        return Map.copyOf(expectedUsed);
    }

    /**
     * Sends everything, resets one user, then waits until the enforcer has counted it all (or
     * {@link #CATCH_UP_TIMEOUT} passed) and reads every user's limit.
     */
    public Summary run(java.util.function.Consumer<Progress> progress) throws IOException, InterruptedException {
        Random random = new Random(settings.seed());
        Instant now = clock.instant();
        YearMonth thisMonth = YearMonth.from(now.atOffset(ZoneOffset.UTC));
        Instant monthStart = thisMonth.atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC);
        // Within the 35-day lateness bound, with margin.
        Instant previousFrom = max(thisMonth.minusMonths(1).atDay(1).atStartOfDay().toInstant(ZoneOffset.UTC),
                now.minus(Duration.ofDays(30)));

        List<UsageEvent> events = new ArrayList<>();
        for (UUID user : users) {
            long target = targetUnits(random);
            long units = 0;
            int n = 0;
            while (units < target) {
                UsageEvent e = event(random, user, between(random, monthStart, now.minusSeconds(60)), "c" + n++);
                units += e.units();
                events.add(e);
            }
            expectedUsed.put(user, units);
            long previous = target / 2;
            for (long u = 0; u < previous && previousFrom.isBefore(monthStart); ) {
                UsageEvent e = event(random, user, between(random, previousFrom, monthStart.minusSeconds(1)), "p" + n++);
                u += e.units();
                events.add(e);
            }
        }
        events.sort(Comparator.comparing(UsageEvent::occurredAt));
        // Late events: about 5 % arrive after everything else, for the month they belong to.
        List<UsageEvent> late = new ArrayList<>();
        List<UsageEvent> onTime = new ArrayList<>();
        for (UsageEvent e : events) {
            (random.nextInt(100) < 5 ? late : onTime).add(e);
        }
        // Duplicates: about 3 % are sent a second time, as a retrying client does, a few requests after
        // the first copy; they must count once. (A copy sent more than the aggregator's dedupe window of
        // event time later counts again: see docs/architecture.md, "Dedupe".)
        List<UsageEvent> firstCopies = new ArrayList<>(onTime);
        firstCopies.addAll(late);
        List<UsageEvent> sendOrder = new ArrayList<>(firstCopies.size() + firstCopies.size() / 20);
        List<UsageEvent> duplicates = new ArrayList<>();
        Map<Integer, List<UsageEvent>> retriesDue = new TreeMap<>();
        for (int i = 0; i < firstCopies.size(); i++) {
            UsageEvent e = firstCopies.get(i);
            sendOrder.add(e);
            if (random.nextInt(100) < 3) {
                duplicates.add(e);
                retriesDue.computeIfAbsent(i + 1 + random.nextInt(MAX_RETRY_DISTANCE), k -> new ArrayList<>()).add(e);
            }
            sendOrder.addAll(retriesDue.getOrDefault(i, List.of()));
            retriesDue.remove(i);
        }
        retriesDue.values().forEach(sendOrder::addAll);

        long started = System.nanoTime();
        long[] sent = {0};
        long refused = 0;
        long nextTick = 0;
        for (int from = 0; from < sendOrder.size(); from += settings.batchSize()) {
            List<UsageEvent> batch = sendOrder.subList(from, Math.min(sendOrder.size(), from + settings.batchSize()));
            HttpResponse<String> response = post(endpoints.ingest().resolve("/v1/events"), endpoints.apiKey(), Json.write(batch));
            if (response.statusCode() != 202) {
                refused += batch.size();
            }
            sent[0] += batch.size();
            pace(started, sent[0]);
            long elapsed = System.nanoTime() - started;
            if (elapsed >= nextTick) {
                refreshStates(random, 40);
                progress.accept(progressOf(sent[0], elapsed, false));
                nextTick = elapsed + TimeUnit.MILLISECONDS.toNanos(500);
            }
        }

        long sendingNanos = System.nanoTime() - started;
        int referrals = sendReferrals(random, now);
        UUID resetUser = resetHeaviest(thisMonth);
        addCreditsToRunnerUp();

        boolean caughtUp = awaitEnforcer(progress, sent[0], sendingNanos);
        List<UserLimit> limits = new ArrayList<>();
        for (UUID user : users) {
            limit(user).ifPresent(limits::add);
        }
        limits.sort(Comparator.comparingLong(UserLimit::used).reversed().thenComparing(UserLimit::userId));
        progress.accept(progressOf(sent[0], sendingNanos, true));
        return new Summary(sent[0], duplicates.size(), late.size(), referrals, resetUser, refused, caughtUp, limits);
    }

    /** Most users stay well below the 1000-unit free plan; some get close, a few go over. */
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

    private UsageEvent event(Random random, UUID user, Instant at, String suffix) {
        Provider provider = PROVIDERS.get(random.nextInt(PROVIDERS.size()));
        List<String> paths = ENDPOINTS.get(provider);
        boolean failed = random.nextInt(100) < 7;
        int status = failed ? ERROR_STATUSES[random.nextInt(ERROR_STATUSES.length)] : (random.nextInt(10) == 0 ? 201 : 200);
        boolean llm = provider == Provider.OPENAI || provider == Provider.ANTHROPIC || provider == Provider.GEMINI;
        long tokens = llm && !failed ? 50 + random.nextInt(4_000) : 0;
        long units = 1 + random.nextInt(5);
        return new UsageEvent("demo-" + settings.seed() + "-" + user.toString().substring(0, 8) + "-" + suffix, user, at,
                provider, paths.get(random.nextInt(paths.size())), random.nextInt(4) == 0 ? "GET" : "POST", status,
                30 + random.nextInt(failed ? 200 : 2_500), 200 + random.nextInt(4_000), failed ? 120 : 500 + random.nextInt(20_000),
                tokens, units);
    }

    /**
     * A tenth of the users complete a referral for another user who was never referred, spread over the last
     * three weeks (the admin panel's analytics show them per day).
     */
    private int sendReferrals(Random random, Instant now) throws IOException, InterruptedException {
        List<UUID> shuffled = new ArrayList<>(users);
        Collections.shuffle(shuffled, random);
        Set<UUID> referred = new HashSet<>();
        List<ReferralEvent> referrals = new ArrayList<>();
        for (int i = 0; i + 1 < shuffled.size() && referrals.size() < settings.users() / 10; i += 2) {
            UUID referrer = shuffled.get(i);
            UUID newcomer = shuffled.get(i + 1);
            if (referred.add(newcomer)) {
                referrals.add(new ReferralEvent("demo-ref-" + settings.seed() + "-" + i, referrer, newcomer,
                        ReferralStatus.COMPLETED, now.minus(Duration.ofDays(referrals.size() % 21)).minusSeconds(30)));
            }
        }
        HttpResponse<String> response = post(endpoints.ingest().resolve("/v1/referrals"), endpoints.apiKey(), Json.write(referrals));
        if (response.statusCode() != 202) {
            throw new IOException("POST /v1/referrals answered " + response.statusCode() + ": " + response.body());
        }
        return referrals.size();
    }

    /** An admin resets this month for the heaviest user: from now on only later events count for them. */
    private UUID resetHeaviest(YearMonth month) throws IOException, InterruptedException {
        UUID heaviest = expectedUsed.entrySet().stream().max(Map.Entry.<UUID, Long>comparingByValue()
                .thenComparing(Map.Entry.comparingByKey())).orElseThrow().getKey();
        URI uri = endpoints.enforcer().resolve("/v1/admin/users/" + heaviest + "/reset-usage");
        HttpResponse<String> response = post(uri, endpoints.adminToken(),
                Json.write(Map.of("month", month.toString(), "dry_run", false)));
        if (response.statusCode() / 100 != 2) {
            throw new IOException("admin reset answered " + response.statusCode() + ": " + response.body());
        }
        // Every demo event of the month occurred before the reset instant.
        expectedUsed.put(heaviest, 0L);
        return heaviest;
    }

    /** After the reset, an admin gives the heaviest user left 500 bonus credits (their usage stays as it is). */
    private void addCreditsToRunnerUp() throws IOException, InterruptedException {
        UUID runnerUp = expectedUsed.entrySet().stream().sorted(Map.Entry.<UUID, Long>comparingByValue().reversed()
                .thenComparing(Map.Entry.comparingByKey())).findFirst().orElseThrow().getKey();
        URI uri = endpoints.enforcer().resolve("/v1/admin/users/" + runnerUp + "/credits");
        HttpResponse<String> response = post(uri, endpoints.adminToken(), Json.write(Map.of("amount", 500)));
        if (response.statusCode() / 100 != 2) {
            throw new IOException("admin credits answered " + response.statusCode() + ": " + response.body());
        }
    }

    /** Polls every user's limit until each counts what was sent (the stream is asynchronous). */
    private boolean awaitEnforcer(java.util.function.Consumer<Progress> progress, long sent, long sendingNanos)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + CATCH_UP_TIMEOUT.toNanos();
        Set<UUID> pending = new HashSet<>(users);
        while (System.nanoTime() < deadline) {
            for (UUID user : List.copyOf(pending)) {
                var limit = limit(user);
                if (limit.isPresent() && limit.get().used() == expectedUsed.get(user)) {
                    pending.remove(user);
                }
            }
            progress.accept(progressOf(sent, sendingNanos, false));
            if (pending.isEmpty()) {
                return true;
            }
            Thread.sleep(500);
        }
        return false;
    }

    private void refreshStates(Random random, int sample) throws IOException, InterruptedException {
        for (int i = 0; i < sample; i++) {
            limit(users.get(random.nextInt(users.size())));
        }
    }

    private Progress progressOf(long sent, long elapsedNanos, boolean done) {
        double seconds = Math.max(elapsedNanos / 1e9, 1e-3);
        int over80 = 0;
        int over100 = 0;
        synchronized (lastState) {
            for (String state : lastState.values()) {
                if ("warning".equals(state)) {
                    over80++;
                } else if ("exceeded".equals(state)) {
                    over80++;
                    over100++;
                }
            }
        }
        return new Progress(sent, sent / seconds, over80, over100, done);
    }

    /** {@code GET /v1/limits/{user}}; empty while the enforcer cannot answer (e.g. rebalancing). */
    public java.util.Optional<UserLimit> limit(UUID user) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(endpoints.enforcer().resolve("/v1/limits/" + user))
                .header("Authorization", "Bearer " + endpoints.apiKey())
                .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            return java.util.Optional.empty();
        }
        JsonNode body = Json.tree(response.body());
        UserLimit limit = new UserLimit(user, body.get("used").asLong(), body.get("effective_limit").asLong(),
                body.get("state").asText());
        synchronized (lastState) {
            lastState.put(user, limit.state());
        }
        return java.util.Optional.of(limit);
    }

    private HttpResponse<String> post(URI uri, String bearer, String json) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + bearer)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private void pace(long started, long sent) throws InterruptedException {
        long due = started + (long) (sent * 1e9 / settings.eventsPerSecond());
        long wait = due - System.nanoTime();
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
        }
    }

    private static Instant between(Random random, Instant from, Instant to) {
        long span = Math.max(1, to.getEpochSecond() - from.getEpochSecond());
        return from.plusSeconds((long) (random.nextDouble() * span));
    }

    private static Instant max(Instant a, Instant b) {
        return a.isAfter(b) ? a : b;
    }

    /** The final table: user, used, limit, state. */
    public static List<String> table(List<UserLimit> rows, UUID resetUser) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format("  %-36s %8s %8s  %s", "user", "used", "limit", "state"));
        for (UserLimit row : rows) {
            lines.add(String.format("  %-36s %8d %8d  %s%s", row.userId(), row.used(), row.effectiveLimit(), row.state(),
                    row.userId().equals(resetUser) ? "  (reset by admin)" : ""));
        }
        return lines;
    }

    /** Counts per state, for the summary line. */
    public static Map<String, Long> states(List<UserLimit> rows) {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (String state : List.of("ok", "warning", "exceeded")) {
            counts.put(state, rows.stream().filter(r -> r.state().equals(state)).count());
        }
        return counts;
    }
}
