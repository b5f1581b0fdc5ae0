package io.usagemeter.enforcer;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.javalin.http.Context;
import io.usagemeter.enforcer.admin.ReplayRunner;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.enforcer.db.AdminReports;
import io.usagemeter.enforcer.http.AdminRequests;
import io.usagemeter.enforcer.http.RequestParams;
import io.usagemeter.enforcer.internal.LimitQueries;
import io.usagemeter.enforcer.internal.LimitQueries.Outcome;
import io.usagemeter.kit.Access;
import io.usagemeter.kit.ApiError;
import io.usagemeter.kit.Caller;
import io.usagemeter.kit.HttpProblem;
import io.usagemeter.kit.Route;
import io.usagemeter.kit.RouteHandler;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.kit.auth.AdminIdentity;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin routes under {@code /v1/admin/}, for holders of an admin JWT: reports, usage resets,
 * bonus credits, plans and replays. Writes are admin commands published to Kafka, applied by the
 * topology and the PostgreSQL writer.
 */
final class AdminRoutes {

    private static final Logger LOG = LoggerFactory.getLogger(AdminRoutes.class);
    private static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(10);

    private final Supplier<LimitQueries> queries;
    private final AdminReports reports;
    private final Producer<String, AdminCommand> commands;
    private final ReplayRunner replays;
    private final Clock clock;
    private final ResetHorizon resetHorizon;

    /**
     * @param replays runs {@code POST /v1/admin/replay}; null answers the replay routes 503 (this process cannot replay)
     */
    AdminRoutes(Supplier<LimitQueries> queries, AdminReports reports, Producer<String, AdminCommand> commands,
                ReplayRunner replays, Clock clock, ResetHorizon resetHorizon) {
        this.queries = queries;
        this.reports = reports;
        this.commands = commands;
        this.replays = replays;
        this.clock = clock;
        this.resetHorizon = resetHorizon;
    }

    @FunctionalInterface
    private interface AdminHandler {
        void handle(Context ctx, AdminIdentity admin) throws Exception;
    }

    private static RouteHandler asAdmin(AdminHandler handler) {
        return (Context ctx, Caller caller) -> handler.handle(ctx, (AdminIdentity) caller);
    }

    List<Route> routes() {
        Access admin = Access.admin();
        return List.of(
                Route.get("/v1/admin/users", "admin_users", admin, asAdmin(this::getUsers)),
                Route.get("/v1/admin/analytics", "admin_analytics", admin, asAdmin(this::getAnalytics)),
                Route.post("/v1/admin/users/{user_id}/reset-usage", "admin_reset_usage", admin, asAdmin(this::resetUsage)),
                Route.post("/v1/admin/users/{user_id}/credits", "admin_credits", admin, asAdmin(this::addCredits)),
                Route.put("/v1/admin/users/{user_id}/plan", "admin_plan", admin, asAdmin(this::setPlan)),
                Route.post("/v1/admin/replay", "admin_replay", admin, asAdmin(this::startReplay)),
                Route.get("/v1/admin/replay/{job_id}", "admin_replay_job", admin, asAdmin(this::getReplay)));
    }

    private void getUsers(Context ctx, AdminIdentity admin) {
        int limit = RequestParams.intParam(ctx, "limit", 100, 1, 10_000);
        ServiceServer.json(ctx, 200, Map.of("users", reports.users(limit)));
    }

    private void getAnalytics(Context ctx, AdminIdentity admin) {
        ServiceServer.json(ctx, 200, reports.analytics(RequestParams.month(ctx.queryParam("month"), clock),
                RequestParams.intParam(ctx, "top", 10, 1, 1000)));
    }

    private void resetUsage(Context ctx, AdminIdentity admin) throws Exception {
        UUID user = RequestParams.userId(ctx);
        AdminRequests.ResetUsage body = AdminRequests.ResetUsage.parse(ctx.body());
        YearMonth month = body.month() == null ? LimitRules.monthOf(clock.instant()) : body.month();
        boolean dryRun = Boolean.TRUE.equals(body.dryRun());
        Instant now = clock.instant();
        AdminRequests.ResetUsage.requireWithinHorizon(month, now, resetHorizon);
        String authorization = ctx.header("Authorization");
        LimitQueries q = LimitRoutes.requireQueries(queries);
        MonthlySummary usage = resolve(q.usage(user, month, false, authorization), MonthlySummary.class);
        LimitAnswer limit = resolve(q.limit(user, false, authorization), LimitAnswer.class);
        var before = AdminRequests.UsageSnapshot.of(usage.units(), limit.effectiveLimit());
        // From the reset instant the month counts only events after it; none has happened yet.
        var after = AdminRequests.UsageSnapshot.of(0, limit.effectiveLimit());
        String commandId = commandId(body.commandId());
        if (!dryRun) {
            publish(new AdminCommand.ResetUsage(commandId, user, month, now, now, admin.email()));
        }
        LOG.info("admin {} {} usage reset of {} for {} (command {})", admin.email(), dryRun ? "previewed" : "issued",
                user, month, commandId);
        ServiceServer.json(ctx, dryRun ? 200 : 202, new AdminRequests.ResetUsageResult(commandId, dryRun, !dryRun, user,
                month, now, before, after));
    }

    private void addCredits(Context ctx, AdminIdentity admin) throws Exception {
        UUID user = RequestParams.userId(ctx);
        AdminRequests.AddCredits body = AdminRequests.AddCredits.parse(ctx.body());
        String commandId = commandId(body.commandId());
        publish(new AdminCommand.AddBonusCredits(commandId, user, body.amount(), clock.instant(), admin.email()));
        LOG.info("admin {} added {} bonus credits to {} (command {})", admin.email(), body.amount(), user, commandId);
        ServiceServer.json(ctx, 202, new AdminRequests.CommandAccepted(commandId, "add_bonus_credits", user, true));
    }

    private void setPlan(Context ctx, AdminIdentity admin) throws Exception {
        UUID user = RequestParams.userId(ctx);
        AdminRequests.SetPlan body = AdminRequests.SetPlan.parse(ctx.body());
        if (LimitRoutes.requireQueries(queries).plan(body.plan()).isEmpty()) {
            throw new HttpProblem(400, "unknown plan",
                    List.of(new ApiError.FieldViolation("plan", "not in subscription_limits: " + body.plan())));
        }
        String commandId = commandId(body.commandId());
        publish(new AdminCommand.SetPlan(commandId, user, body.plan(), clock.instant(), admin.email()));
        LOG.info("admin {} moved {} to plan {} (command {})", admin.email(), user, body.plan(), commandId);
        ServiceServer.json(ctx, 202, new AdminRequests.CommandAccepted(commandId, "set_plan", user, true));
    }

    /** Body of {@code POST /v1/admin/replay}: {@code month} or {@code from}, and {@code dry_run}. */
    record ReplayRequest(YearMonth month, Instant from, Boolean dryRun) {
    }

    private void startReplay(Context ctx, AdminIdentity admin) {
        ReplayRunner runner = requireReplays();
        ReplayRequest body = RequestParams.body(ctx, ReplayRequest.class, null);
        if ((body.month() == null) == (body.from() == null)) {
            throw new HttpProblem(400, "give exactly one of month (YYYY-MM) or from (RFC 3339)");
        }
        boolean dryRun = Boolean.TRUE.equals(body.dryRun());
        ReplayRunner.Request request = body.month() != null
                ? ReplayRunner.Request.month(body.month(), dryRun) : ReplayRunner.Request.from(body.from(), dryRun);
        try {
            String jobId = runner.start(request);
            LOG.info("admin {} started replay {} of {}", admin.email(), jobId, request);
            ServiceServer.json(ctx, 202, Map.of("job_id", jobId));
        } catch (ReplayRunner.InvalidRequest e) {
            throw HttpProblem.badField(e.getMessage(), e.field(), e.getMessage());
        } catch (ReplayRunner.Refused e) {
            throw new HttpProblem(409, e.getMessage());
        }
    }

    private void getReplay(Context ctx, AdminIdentity admin) {
        ReplayRunner.JobStatus job = requireReplays().job(ctx.pathParam("job_id"))
                .orElseThrow(() -> new HttpProblem(404, "no replay job " + ctx.pathParam("job_id") + " on this instance"));
        ServiceServer.json(ctx, 200, job);
    }

    private ReplayRunner requireReplays() {
        if (replays == null) {
            // Not a passing state: no Retry-After, the caller must go to a process that can replay.
            throw new HttpProblem(503, "replay is not available in this process", List.of(
                    "this enforcer was started without a replay runner; `meter enforcer` and `meter dev` provide one"),
                    false);
        }
        return replays;
    }

    private void publish(AdminCommand command) throws Exception {
        commands.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), null, command.issuedAt().toEpochMilli(),
                command.userId().toString(), command)).get(PUBLISH_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static <T> T resolve(Outcome<?> outcome, Class<T> type) throws JsonProcessingException {
        if (outcome instanceof Outcome.Local<?> local) {
            return type.cast(local.value());
        }
        if (outcome instanceof Outcome.Forwarded<?> forwarded) {
            return Json.read(forwarded.body(), type);
        }
        throw new HttpProblem(503, "limit state unavailable", List.of(((Outcome.Unavailable<?>) outcome).reason()));
    }

    private static String commandId(String given) {
        if (given == null) {
            return UUID.randomUUID().toString();
        }
        if (given.isBlank() || given.length() > 200) {
            throw new HttpProblem(400, "command_id must be 1 to 200 characters");
        }
        return given;
    }
}
