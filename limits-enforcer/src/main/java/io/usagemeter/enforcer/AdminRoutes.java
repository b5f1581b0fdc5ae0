package io.usagemeter.enforcer;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.javalin.http.Context;
import io.usagemeter.enforcer.admin.ReplayRunner;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.enforcer.db.AdminReports;
import io.usagemeter.enforcer.db.DailyAnalytics;
import io.usagemeter.enforcer.db.PlanCatalog;
import io.usagemeter.enforcer.db.UserDetails;
import io.usagemeter.enforcer.db.UserQuery;
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
import io.usagemeter.schema.events.Saturating;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.reconcile.Reconciler;
import io.usagemeter.schema.reconcile.ReconcileSources;
import io.usagemeter.schema.topics.Topics;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.jooq.DSLContext;
import org.jooq.exception.DataAccessException;
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
    private final UserDetails userDetails;
    private final DailyAnalytics daily;
    private final DSLContext dsl;
    private final Producer<String, AdminCommand> commands;
    private final ReplayRunner replays;
    private final Clock clock;
    private final ResetHorizon resetHorizon;
    private final ReconcileSources reconcileSources;
    private final Properties kafka;

    /**
     * @param replays runs {@code POST /v1/admin/replay}; null answers the replay routes 503 (this process cannot replay)
     */
    AdminRoutes(Supplier<LimitQueries> queries, DSLContext dsl, Producer<String, AdminCommand> commands,
                ReplayRunner replays, Clock clock, ResetHorizon resetHorizon, ReconcileSources reconcileSources,
                Properties kafka) {
        this.queries = queries;
        this.dsl = dsl;
        this.reports = new AdminReports(dsl);
        this.userDetails = new UserDetails(dsl);
        this.daily = new DailyAnalytics(dsl);
        this.commands = commands;
        this.replays = replays;
        this.clock = clock;
        this.resetHorizon = resetHorizon;
        this.reconcileSources = reconcileSources;
        this.kafka = kafka;
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
                // What the admin panel reads besides the routes above.
                Route.get("/v1/admin/session", "admin_session", admin, asAdmin(this::getSession)),
                Route.get("/v1/admin/plans", "admin_plans", admin, asAdmin(this::getPlans)),
                Route.get("/v1/admin/users/{user_id}", "admin_user", admin, asAdmin(this::getUser)),
                Route.get("/v1/admin/users/{user_id}/usage-by-day", "admin_user_usage_by_day", admin,
                        asAdmin(this::getUsageByDay)),
                Route.get("/v1/admin/analytics/daily", "admin_analytics_daily", admin, asAdmin(this::getDailyAnalytics)),
                Route.post("/v1/admin/users/{user_id}/reset-usage", "admin_reset_usage", admin, asAdmin(this::resetUsage)),
                Route.post("/v1/admin/users/{user_id}/credits", "admin_credits", admin, asAdmin(this::addCredits)),
                Route.put("/v1/admin/users/{user_id}/plan", "admin_plan", admin, asAdmin(this::setPlan)),
                Route.post("/v1/admin/replay", "admin_replay", admin, asAdmin(this::startReplay)),
                Route.get("/v1/admin/replay/{job_id}", "admin_replay_job", admin, asAdmin(this::getReplay)),
                Route.get("/v1/admin/reconcile", "admin_reconcile", admin, asAdmin(this::reconcile)));
    }

    /**
     * {@code ?q=&state=&sort=&page=&page_size=}; {@code ?limit=N} (the first N users, most used first) is what
     * {@code page_size=N} is, kept for the callers that send it.
     */
    private void getUsers(Context ctx, AdminIdentity admin) {
        String state = ctx.queryParam("state");
        if (state != null && !state.isBlank() && !List.of(UserQuery.STATES).contains(state)) {
            throw HttpProblem.badField("unknown state", "state", "must be one of ok, warning, exceeded, was '"
                    + abbreviate(state) + "'");
        }
        String sortName = ctx.queryParam("sort");
        UserQuery.Sort sort = sortName == null || sortName.isBlank() ? UserQuery.Sort.USED_DESC
                : UserQuery.Sort.fromWire(sortName).orElseThrow(() -> HttpProblem.badField("unknown sort", "sort",
                        "must be one of used_desc, used_asc, percent_desc, percent_asc, was '" + abbreviate(sortName) + "'"));
        String search = ctx.queryParam("q");
        if (search != null && search.strip().length() > UserQuery.MAX_SEARCH_LENGTH) {
            throw HttpProblem.badField("search too long", "q", "at most " + UserQuery.MAX_SEARCH_LENGTH + " characters");
        }
        int legacyLimit = RequestParams.intParam(ctx, "limit", 100, 1, UserQuery.MAX_PAGE_SIZE);
        int pageSize = RequestParams.intParam(ctx, "page_size", legacyLimit, 1, UserQuery.MAX_PAGE_SIZE);
        int page = RequestParams.intParam(ctx, "page", 1, 1, Integer.MAX_VALUE / UserQuery.MAX_PAGE_SIZE);
        YearMonth month = RequestParams.month(ctx.queryParam("month"), clock);
        AdminReports.UserPage result = reports.users(new UserQuery(month, search,
                state == null || state.isBlank() ? null : state, sort, page, pageSize));
        ServiceServer.json(ctx, 200, result);
    }

    private void getSession(Context ctx, AdminIdentity admin) {
        ServiceServer.json(ctx, 200, Map.of("email", admin.email()));
    }

    private void getPlans(Context ctx, AdminIdentity admin) {
        ServiceServer.json(ctx, 200, Map.of("plans", PlanCatalog.read(dsl).stream()
                .map(p -> Map.of("plan", p.plan(), "monthly_units", p.monthlyUnits())).toList()));
    }

    private void getUser(Context ctx, AdminIdentity admin) {
        UUID user = RequestParams.userId(ctx);
        ServiceServer.json(ctx, 200, userDetails.profile(user).orElseThrow(() -> new HttpProblem(404,
                "no user " + user + " in PostgreSQL", List.of("a user gets a row with their first event, referral or admin command"))));
    }

    private void getUsageByDay(Context ctx, AdminIdentity admin) {
        UUID user = RequestParams.userId(ctx);
        YearMonth month = RequestParams.month(ctx.queryParam("month"), clock);
        ServiceServer.json(ctx, 200, userDetails.monthByDay(user, month, LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC)));
    }

    /** {@code ?from=YYYY-MM-DD&to=YYYY-MM-DD}, both included; by default the 30 days up to today (UTC). */
    private void getDailyAnalytics(Context ctx, AdminIdentity admin) {
        LocalDate today = LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
        LocalDate last = day(ctx, "to", today);
        LocalDate first = day(ctx, "from", last.minusDays(29));
        if (first.isAfter(last)) {
            throw HttpProblem.badField("empty window", "from", "must not be after to (" + last + ")");
        }
        if (first.plusDays(DailyAnalytics.MAX_DAYS).isBefore(last.plusDays(1))) {
            throw HttpProblem.badField("window too long", "from", "at most " + DailyAnalytics.MAX_DAYS + " days before to");
        }
        ServiceServer.json(ctx, 200, daily.days(first, last));
    }

    private static LocalDate day(Context ctx, String name, LocalDate fallback) {
        String raw = ctx.queryParam(name);
        if (raw == null || raw.isBlank()) {
            return fallback;
        }
        try {
            return LocalDate.parse(raw);
        } catch (DateTimeParseException e) {
            throw HttpProblem.badField("malformed " + name, name, "must be a day YYYY-MM-DD, was '" + abbreviate(raw) + "'");
        }
    }

    private static String abbreviate(String value) {
        return value.length() <= 64 ? value : value.substring(0, 64) + "...";
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
        if (Boolean.TRUE.equals(body.dryRun())) {
            LimitAnswer limit = currentLimit(ctx, user);
            long credits = Saturating.add(limit.bonusCredits(), body.amount());
            long after = LimitRules.effectiveLimit(limit.planUnits(), limit.referralCount(), credits);
            ServiceServer.json(ctx, 200, new AdminRequests.AddCreditsPreview(true, false, user, body.amount(),
                    limit.bonusCredits(), credits, AdminRequests.UsageSnapshot.of(limit.used(), limit.effectiveLimit()),
                    AdminRequests.UsageSnapshot.of(limit.used(), after)));
            return;
        }
        String commandId = commandId(body.commandId());
        publish(new AdminCommand.AddBonusCredits(commandId, user, body.amount(), clock.instant(), admin.email()));
        LOG.info("admin {} added {} bonus credits to {} (command {})", admin.email(), body.amount(), user, commandId);
        ServiceServer.json(ctx, 202, new AdminRequests.CommandAccepted(commandId, "add_bonus_credits", user, true));
    }

    private void setPlan(Context ctx, AdminIdentity admin) throws Exception {
        UUID user = RequestParams.userId(ctx);
        AdminRequests.SetPlan body = AdminRequests.SetPlan.parse(ctx.body());
        Plan plan = LimitRoutes.requireQueries(queries).plan(body.plan()).orElseThrow(() -> new HttpProblem(400,
                "unknown plan", List.of(new ApiError.FieldViolation("plan", "not in subscription_limits: " + body.plan()))));
        if (Boolean.TRUE.equals(body.dryRun())) {
            LimitAnswer limit = currentLimit(ctx, user);
            long after = LimitRules.effectiveLimit(plan.monthlyUnits(), limit.referralCount(), limit.bonusCredits());
            ServiceServer.json(ctx, 200, new AdminRequests.SetPlanPreview(true, false, user, limit.plan(), plan.plan(),
                    limit.planUnits(), plan.monthlyUnits(), AdminRequests.UsageSnapshot.of(limit.used(), limit.effectiveLimit()),
                    AdminRequests.UsageSnapshot.of(limit.used(), after)));
            return;
        }
        String commandId = commandId(body.commandId());
        publish(new AdminCommand.SetPlan(commandId, user, body.plan(), clock.instant(), admin.email()));
        LOG.info("admin {} moved {} to plan {} (command {})", admin.email(), user, body.plan(), commandId);
        ServiceServer.json(ctx, 202, new AdminRequests.CommandAccepted(commandId, "set_plan", user, true));
    }

    /** The user's limit now, from the owner of their state (as {@code GET /v1/limits} answers it). */
    private LimitAnswer currentLimit(Context ctx, UUID user) throws JsonProcessingException {
        return resolve(LimitRoutes.requireQueries(queries).limit(user, false, ctx.header("Authorization")), LimitAnswer.class);
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

    /** {@code GET /v1/admin/reconcile?month=&user_id=}: the month compared across the pipeline ({@link Reconciler}). */
    private void reconcile(Context ctx, AdminIdentity admin) {
        YearMonth month = RequestParams.month(ctx.queryParam("month"), clock);
        String rawUser = ctx.queryParam("user_id");
        UUID user = null;
        if (rawUser != null && !rawUser.isBlank()) {
            if (!RequestParams.isUuidText(rawUser)) {
                throw HttpProblem.badField("malformed user_id", "user_id", "must be a UUID, was '" + rawUser + "'");
            }
            user = UUID.fromString(rawUser);
        }
        String authorization = ctx.header("Authorization");
        LimitQueries q = LimitRoutes.requireQueries(queries);
        Reconciler reconciler = new Reconciler(kafka, dsl, (u, m) -> enforcerUnits(q, u, m, authorization),
                reconcileSources, clock);
        try {
            ServiceServer.json(ctx, 200, reconciler.reconcile(month, user));
        } catch (KafkaException | IllegalStateException | DataAccessException e) {
            throw new HttpProblem(503, "cannot reconcile now", List.of(String.valueOf(e.getMessage())));
        }
    }

    private static OptionalLong enforcerUnits(LimitQueries q, UUID user, YearMonth month, String authorization) {
        try {
            Outcome<MonthlySummary> outcome = q.usage(user, month, false, authorization);
            if (outcome instanceof Outcome.Unavailable<?>
                    || outcome instanceof Outcome.Forwarded<?> forwarded && forwarded.status() != 200) {
                return OptionalLong.empty();
            }
            return OptionalLong.of(resolve(outcome, MonthlySummary.class).units());
        } catch (JsonProcessingException | RuntimeException e) {
            return OptionalLong.empty();
        }
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
