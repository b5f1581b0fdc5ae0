package io.usagemeter.enforcer;

import io.javalin.http.Context;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.enforcer.http.RequestParams;
import io.usagemeter.enforcer.internal.LimitQueries;
import io.usagemeter.enforcer.internal.LimitQueries.Outcome;
import io.usagemeter.enforcer.internal.ReplayWatch;
import io.usagemeter.kit.Access;
import io.usagemeter.kit.HttpProblem;
import io.usagemeter.kit.Route;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.schema.events.MonthlySummary;
import java.time.Clock;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The limit checks, {@code GET /v1/limits/{user_id}} and {@code GET /v1/usage/{user_id}}, read with an
 * API key of scope {@code limits:read} (or an admin token): answered from this instance's store,
 * forwarded to the owner, or from a standby flagged {@code stale}; 503 with {@code Retry-After} when no
 * copy answers.
 */
final class LimitRoutes {

    static final String LIMITS = "limits";
    static final String USAGE = "usage";

    private final Supplier<LimitQueries> queries;
    private final Supplier<ReplayWatch> replayWatch;
    private final MeterRegistry registry;
    private final Clock clock;
    /** Counters by route and source; few and fixed, so registered once and then only looked up. */
    private final Map<String, Counter> queryCounters = new ConcurrentHashMap<>();

    /**
     * @param queries the running topology's queries, null while it starts
     * @param replayWatch which months a replay is rebuilding, null while it starts
     */
    LimitRoutes(Supplier<LimitQueries> queries, Supplier<ReplayWatch> replayWatch, MeterRegistry registry, Clock clock) {
        this.queries = queries;
        this.replayWatch = replayWatch;
        this.registry = registry;
        this.clock = clock;
    }

    List<Route> routes() {
        Access read = Access.apiKeyOrAdmin(ApiKeyScopes.LIMITS_READ);
        return List.of(
                Route.get("/v1/limits/{user_id}", LIMITS, read, (ctx, caller) -> getLimit(ctx)),
                Route.get("/v1/usage/{user_id}", USAGE, read, (ctx, caller) -> getUsage(ctx)));
    }

    private void getLimit(Context ctx) {
        UUID user = RequestParams.userId(ctx);
        Outcome<LimitAnswer> outcome = requireQueries(queries).limit(user,
                ctx.header(LimitQueries.FORWARDED_HEADER) != null, ctx.header("Authorization"));
        answer(ctx, LIMITS, markRebuilding(outcome));
    }

    private void getUsage(Context ctx) {
        UUID user = RequestParams.userId(ctx);
        YearMonth month = RequestParams.month(ctx.queryParam("month"), clock);
        Outcome<MonthlySummary> outcome = requireQueries(queries).usage(user, month,
                ctx.header(LimitQueries.FORWARDED_HEADER) != null, ctx.header("Authorization"));
        answer(ctx, USAGE, outcome);
    }

    /** While a replay rebuilds the answer's month, the answer still stands but says it may move: stale. */
    private Outcome<LimitAnswer> markRebuilding(Outcome<LimitAnswer> outcome) {
        ReplayWatch watch = replayWatch.get();
        if (watch != null && outcome instanceof Outcome.Local<LimitAnswer> local && !local.value().stale()
                && watch.rebuilding(local.value().month())) {
            LimitAnswer a = local.value();
            return new Outcome.Local<>(new LimitAnswer(a.userId(), a.month(), a.plan(), a.planUnits(), a.referralCount(),
                    a.multiplier(), a.bonusCredits(), a.effectiveLimit(), a.used(), a.remaining(), a.state(), a.allowed(),
                    a.resetsAt(), a.asOf(), true));
        }
        return outcome;
    }

    private <T> void answer(Context ctx, String route, Outcome<T> outcome) {
        if (outcome instanceof Outcome.Local<T> local) {
            count(route, local.value() instanceof LimitAnswer a && a.stale() ? "stale" : "local");
            ServiceServer.json(ctx, 200, local.value());
        } else if (outcome instanceof Outcome.Forwarded<T> forwarded) {
            count(route, "forwarded");
            ctx.status(forwarded.status()).contentType(ServiceServer.JSON).result(forwarded.body());
        } else if (outcome instanceof Outcome.Unavailable<T> unavailable) {
            count(route, "unavailable");
            throw new HttpProblem(503, "limit state unavailable", List.of(unavailable.reason()));
        }
    }

    private void count(String route, String source) {
        queryCounters.computeIfAbsent(route + '|' + source, k -> Counter.builder("meter.enforcer.queries")
                .description("Limit and usage queries by where they were answered")
                .tag("route", route).tag("source", source).register(registry)).increment();
    }

    /** The queries of the running topology, or 503 while the enforcer starts. */
    static LimitQueries requireQueries(Supplier<LimitQueries> queries) {
        LimitQueries q = queries.get();
        if (q == null) {
            throw new HttpProblem(503, "limit state unavailable", List.of("the enforcer is starting"));
        }
        return q;
    }
}
