package io.usagemeter.enforcer;

import io.javalin.http.Context;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.usagemeter.enforcer.http.RequestParams;
import io.usagemeter.enforcer.internal.LimitQueries;
import io.usagemeter.enforcer.internal.LimitQueries.Outcome;
import io.usagemeter.enforcer.internal.ReplayWatch;
import io.usagemeter.enforcer.internal.ServedLimit;
import io.usagemeter.kit.Access;
import io.usagemeter.kit.HttpProblem;
import io.usagemeter.kit.Route;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.kit.keys.ApiKeyScopes;
import io.usagemeter.schema.events.MonthlySummary;
import java.io.IOException;
import java.time.Clock;
import java.time.YearMonth;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
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
    private final Clock clock;
    private final SourceCounters limitCounters;
    private final SourceCounters usageCounters;

    /**
     * @param queries the running topology's queries, null while it starts
     * @param replayWatch which months a replay is rebuilding, null while it starts
     */
    LimitRoutes(Supplier<LimitQueries> queries, Supplier<ReplayWatch> replayWatch, MeterRegistry registry, Clock clock) {
        this.queries = queries;
        this.replayWatch = replayWatch;
        this.clock = clock;
        this.limitCounters = new SourceCounters(registry, LIMITS);
        this.usageCounters = new SourceCounters(registry, USAGE);
    }

    List<Route> routes() {
        Access read = Access.apiKeyOrAdmin(ApiKeyScopes.LIMITS_READ);
        return List.of(
                Route.get("/v1/limits/{user_id}", LIMITS, read, (ctx, caller) -> getLimit(ctx)),
                Route.get("/v1/usage/{user_id}", USAGE, read, (ctx, caller) -> getUsage(ctx)));
    }

    private void getLimit(Context ctx) throws IOException {
        UUID user = RequestParams.userId(ctx);
        Outcome<ServedLimit> outcome = requireQueries(queries).servedLimit(user,
                ctx.header(LimitQueries.FORWARDED_HEADER) != null, ctx.header("Authorization"));
        if (outcome instanceof Outcome.Local<ServedLimit> local) {
            ServedLimit served = markRebuilding(local.value());
            limitCounters.count(served.isStale() ? Source.STALE : Source.LOCAL);
            ServiceServer.send(ctx, 200, ServiceServer.JSON, served.json());
        } else {
            answerRemote(ctx, limitCounters, outcome);
        }
    }

    private void getUsage(Context ctx) {
        UUID user = RequestParams.userId(ctx);
        YearMonth month = RequestParams.month(ctx.queryParam("month"), clock);
        Outcome<MonthlySummary> outcome = requireQueries(queries).usage(user, month,
                ctx.header(LimitQueries.FORWARDED_HEADER) != null, ctx.header("Authorization"));
        if (outcome instanceof Outcome.Local<MonthlySummary> local) {
            usageCounters.count(Source.LOCAL);
            ServiceServer.json(ctx, 200, local.value());
        } else {
            answerRemote(ctx, usageCounters, outcome);
        }
    }

    /** While a replay rebuilds the answer's month, the answer still stands but says it may move: stale. */
    private ServedLimit markRebuilding(ServedLimit served) {
        ReplayWatch watch = replayWatch.get();
        if (watch != null && !served.isStale() && watch.rebuilding(served.limit().month())) {
            return served.stale();
        }
        return served;
    }

    private static <T> void answerRemote(Context ctx, SourceCounters counters, Outcome<T> outcome) {
        if (outcome instanceof Outcome.Forwarded<T> forwarded) {
            counters.count(Source.FORWARDED);
            ctx.status(forwarded.status()).contentType(ServiceServer.JSON).result(forwarded.body());
        } else if (outcome instanceof Outcome.Unavailable<T> unavailable) {
            counters.count(Source.UNAVAILABLE);
            throw new HttpProblem(503, "limit state unavailable", List.of(unavailable.reason()));
        }
    }

    /** Where a query was answered, as the {@code source} tag of {@code meter.enforcer.queries}. */
    private enum Source {
        LOCAL, STALE, FORWARDED, UNAVAILABLE;

        final String tag = name().toLowerCase(Locale.ROOT);
    }

    /** The counters of one route by source, registered up front: a request only increments one. */
    private static final class SourceCounters {
        private final Counter[] bySource = new Counter[Source.values().length];

        SourceCounters(MeterRegistry registry, String route) {
            for (Source source : Source.values()) {
                bySource[source.ordinal()] = Counter.builder("meter.enforcer.queries")
                        .description("Limit and usage queries by where they were answered")
                        .tag("route", route).tag("source", source.tag).register(registry);
            }
        }

        void count(Source source) {
            bySource[source.ordinal()].increment();
        }
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
