package io.usagemeter.enforcer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.enforcer.admin.ReplayRunner;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.enforcer.db.AdminReports;
import io.usagemeter.enforcer.db.EntitlementEffectsWriter;
import io.usagemeter.enforcer.db.PlanCatalog;
import io.usagemeter.enforcer.http.AdminAuthException;
import io.usagemeter.enforcer.http.AdminAuthenticator;
import io.usagemeter.enforcer.http.AdminIdentity;
import io.usagemeter.enforcer.http.AdminRequests;
import io.usagemeter.enforcer.http.ApiError;
import io.usagemeter.enforcer.internal.LimitQueries;
import io.usagemeter.enforcer.internal.LimitQueries.Outcome;
import io.usagemeter.enforcer.internal.ReplayWatch;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.streams.LocalStateRecovery;
import io.usagemeter.schema.topics.TopicBootstrapper;
import io.usagemeter.schema.topics.TopicSettings;
import io.usagemeter.schema.topics.Topics;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.state.HostInfo;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import org.postgresql.ds.PGSimpleDataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One enforcer instance: the Streams topology, limit checks over HTTP answered from any instance,
 * the admin routes, and the PostgreSQL writer of entitlement effects. Built from its dependencies
 * so tests run several instances on random ports against one embedded broker and database.
 */
public final class EnforcerService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(EnforcerService.class);
    private static final String JSON = "application/json";
    private static final String RETRY_AFTER_SECONDS = "2";
    private static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(10);
    private static final int RESULT_COPY_BUFFER_BYTES = 4096;
    private static final ObjectWriter JSON_WRITER = Json.writer();

    private final EnforcerConfig config;
    private final DSLContext dsl;
    private final Clock clock;
    private final Properties streamsOverrides;
    private final PrometheusMeterRegistry registry;
    private final AdminAuthenticator adminAuth;
    private final AdminReports reports;
    private final Producer<String, AdminCommand> commands;
    private final Javalin app;
    private final List<AutoCloseable> owned = new ArrayList<>();
    /** Meters by route and status (or source); few and fixed, so registered once and then only looked up. */
    private final Map<String, Timer> requestTimers = new ConcurrentHashMap<>();
    private final Map<String, Counter> queryCounters = new ConcurrentHashMap<>();
    private volatile KafkaStreams streams;
    private volatile LimitQueries queries;
    private volatile EntitlementEffectsWriter writer;
    private final ReplayRunner replays;
    private volatile ReplayWatch replayWatch;

    /**
     * @param streamsOverrides Kafka Streams properties that win over the configuration's (tests shorten timeouts)
     */
    public EnforcerService(EnforcerConfig config, DSLContext dsl, Clock clock, Properties streamsOverrides) {
        this(config, dsl, clock, streamsOverrides, null);
    }

    /**
     * @param replays runs {@code POST /v1/admin/replay} and is closed with the service; null answers the replay
     *     routes 503 (this process cannot replay)
     */
    public EnforcerService(EnforcerConfig config, DSLContext dsl, Clock clock, Properties streamsOverrides,
                           ReplayRunner replays) {
        this.replays = replays;
        this.config = config;
        this.dsl = dsl;
        this.clock = clock;
        this.streamsOverrides = streamsOverrides;
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        this.adminAuth = AdminAuthenticator.fromConfig(config, clock);
        this.reports = new AdminReports(dsl);
        this.commands = new KafkaProducer<>(config.producerProperties("enforcer-admin-commands"),
                new StringSerializer(), Topics.ADMIN_COMMANDS.valueSerde().serializer());
        this.app = Javalin.create(javalin -> {
            javalin.startup.showJavalinBanner = false;
            javalin.startup.showOldJavalinVersionWarning = false;
            // Javalin copies every result through a buffer of this size allocated per request (Jetty's 32 KiB output
            // buffer by default): 4 KiB holds a limit answer whole and cut that allocation eightfold.
            javalin.http.responseBufferSize = RESULT_COPY_BUFFER_BYTES;
            javalin.routes.get("/v1/limits/{user_id}", ctx -> timed(ctx, "limits", this::getLimit));
            javalin.routes.get("/v1/usage/{user_id}", ctx -> timed(ctx, "usage", this::getUsage));
            javalin.routes.get("/v1/admin/users", ctx -> timed(ctx, "admin_users", c -> admin(c, this::getUsers)));
            javalin.routes.get("/v1/admin/analytics", ctx -> timed(ctx, "admin_analytics", c -> admin(c, this::getAnalytics)));
            javalin.routes.post("/v1/admin/users/{user_id}/reset-usage",
                    ctx -> timed(ctx, "admin_reset_usage", c -> admin(c, this::resetUsage)));
            javalin.routes.post("/v1/admin/users/{user_id}/credits",
                    ctx -> timed(ctx, "admin_credits", c -> admin(c, this::addCredits)));
            javalin.routes.put("/v1/admin/users/{user_id}/plan",
                    ctx -> timed(ctx, "admin_plan", c -> admin(c, this::setPlan)));
            javalin.routes.post("/v1/admin/replay", ctx -> timed(ctx, "admin_replay", c -> admin(c, this::startReplay)));
            javalin.routes.get("/v1/admin/replay/{job_id}",
                    ctx -> timed(ctx, "admin_replay_job", c -> admin(c, this::getReplay)));
            javalin.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
                    .result(registry.scrape()));
            javalin.routes.get("/health/live", ctx -> json(ctx, 200, Map.of("status", "UP")));
            javalin.routes.get("/health/ready", this::ready);
            javalin.routes.error(404, ctx -> {
                if (ctx.result() == null) {
                    json(ctx, 404, ApiError.of("no route " + ctx.method() + " " + ctx.path()));
                }
            });
            javalin.routes.exception(Exception.class, (e, ctx) -> {
                LOG.error("unexpected failure on {} {}", ctx.method(), ctx.path(), e);
                json(ctx, 500, ApiError.of("internal error"));
            });
        });
    }

    /** The service with its own database connection from the configuration, without replays (routes answer 503). */
    public static EnforcerService create(EnforcerConfig config) {
        return create(config, dsl -> null);
    }

    /**
     * The service for {@code meter enforcer}: its own database connection from the configuration.
     *
     * @param replays builds the replay runner on that database connection (may return null: no replays)
     */
    public static EnforcerService create(EnforcerConfig config, Function<DSLContext, ReplayRunner> replays) {
        PGSimpleDataSource dataSource = new PGSimpleDataSource();
        dataSource.setUrl(config.dbUrl());
        dataSource.setUser(config.dbUser());
        dataSource.setPassword(config.dbPassword());
        DSLContext dsl = DSL.using(dataSource, SQLDialect.POSTGRES);
        return new EnforcerService(config, dsl, Clock.systemUTC(), new Properties(), replays.apply(dsl));
    }

    /** Creates missing topics, publishes the plans, then starts HTTP, the topology and the writer. */
    public EnforcerService start() {
        TopicSettings topics;
        try (Admin admin = Admin.create(config.adminProperties())) {
            // Replication follows the cluster unless set: 3 replicas and 2 in sync from 3 brokers on.
            topics = TopicBootstrapper.resolve(admin, config.topicSettings());
            TopicBootstrapper.bootstrap(admin, topics);
            new TopicBootstrapper(admin, topics.replicationFactor()).bootstrap(List.of(EnforcerTopics.plans(topics)));
        }
        try (KafkaProducer<String, Plan> plans = new KafkaProducer<>(config.producerProperties("enforcer-plans"),
                new StringSerializer(), EnforcerTopics.PLAN_SERDE.serializer())) {
            PlanCatalog.publish(dsl, plans);
        }
        try (Admin admin = Admin.create(config.adminProperties())) {
            new TopicBootstrapper(admin, topics.replicationFactor()).bootstrap(List.of(Topics.REPLAYS));
        }
        this.replayWatch = new ReplayWatch(config.kafkaBootstrap(), clock).start();
        app.start(config.port());
        URI advertised = config.advertisedUrl(app.port());
        Properties props = config.streamsProperties(advertised);
        props.putAll(topics.streamsProperties());
        props.putAll(streamsOverrides);
        KafkaStreams kafkaStreams = LocalStateRecovery.start(() -> {
            KafkaStreams instance = new KafkaStreams(EnforcerTopology.build(config), props);
            // A dead stream thread is replaced; its tasks restore from their changelogs.
            instance.setUncaughtExceptionHandler(e -> {
                LOG.error("stream thread died; replacing it", e);
                return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
            });
            return instance;
        }, "enforcer " + config.applicationId());
        KafkaStreamsMetrics streamsMetrics = new KafkaStreamsMetrics(kafkaStreams);
        streamsMetrics.bindTo(registry);
        owned.add(streamsMetrics);
        this.queries = new LimitQueries(kafkaStreams, new HostInfo(advertised.getHost(), advertised.getPort()),
                config.grace(), clock);
        this.streams = kafkaStreams;
        this.writer = new EntitlementEffectsWriter(config.applicationId() + "-db", config.kafkaBootstrap(), dsl,
                config.resetHorizon(), Topics.DEAD_LETTER.name(), clock).start();
        LOG.info("enforcer listening on {} (port {}), Kafka {}, database {}", advertised, app.port(),
                config.kafkaBootstrap(), config.maskedDbUrl());
        return this;
    }

    public int port() {
        return app.port();
    }

    public KafkaStreams streams() {
        return streams;
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        app.stop();
        EntitlementEffectsWriter w = writer;
        if (w != null) {
            w.close();
        }
        KafkaStreams s = streams;
        if (s != null) {
            s.close(Duration.ofSeconds(30));
        }
        commands.close(Duration.ofSeconds(5));
        if (replays != null) {
            replays.close();
        }
        ReplayWatch watch = replayWatch;
        if (watch != null) {
            watch.close();
        }
        for (AutoCloseable resource : owned) {
            try {
                resource.close();
            } catch (Exception e) {
                LOG.warn("could not close {}: {}", resource.getClass().getSimpleName(), e.toString());
            }
        }
        registry.close();
    }

    // ---- limit checks

    private void getLimit(Context ctx) {
        UUID user = userId(ctx);
        LimitQueries q = requireQueries();
        Outcome<LimitAnswer> outcome = q.limit(user, ctx.header(LimitQueries.FORWARDED_HEADER) != null);
        answer(ctx, "limits", markRebuilding(outcome));
    }

    private void getUsage(Context ctx) {
        UUID user = userId(ctx);
        YearMonth month = month(ctx.queryParam("month"));
        Outcome<MonthlySummary> outcome = requireQueries().usage(user, month, ctx.header(LimitQueries.FORWARDED_HEADER) != null);
        answer(ctx, "usage", outcome);
    }

    /** While a replay rebuilds the answer's month, the answer still stands but says it may move: stale. */
    private Outcome<LimitAnswer> markRebuilding(Outcome<LimitAnswer> outcome) {
        ReplayWatch watch = replayWatch;
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
            json(ctx, 200, local.value());
        } else if (outcome instanceof Outcome.Forwarded<T> forwarded) {
            count(route, "forwarded");
            ctx.status(forwarded.status()).contentType(JSON).result(forwarded.body());
        } else if (outcome instanceof Outcome.Unavailable<T> unavailable) {
            count(route, "unavailable");
            throw new HttpProblem(503, "limit state unavailable", List.of(unavailable.reason()));
        }
    }

    private void count(String route, String source) {
        // Looked up once per (route, source): building and registering a meter per request was a visible share of
        // a limit check's CPU.
        queryCounters.computeIfAbsent(route + '|' + source, k -> Counter.builder("meter.enforcer.queries")
                .description("Limit and usage queries by where they were answered")
                .tag("route", route).tag("source", source).register(registry)).increment();
    }

    private LimitQueries requireQueries() {
        LimitQueries q = queries;
        if (q == null) {
            throw new HttpProblem(503, "limit state unavailable", List.of("the enforcer is starting"));
        }
        return q;
    }

    private void ready(Context ctx) {
        KafkaStreams s = streams;
        boolean streamsUp = s != null && s.state().isRunningOrRebalancing();
        json(ctx, streamsUp ? 200 : 503, Map.of("status", streamsUp ? "UP" : "DOWN",
                "checks", Map.of("streams", s == null ? "NOT_STARTED" : s.state().name())));
    }

    // ---- admin

    @FunctionalInterface
    private interface AdminHandler {
        void handle(Context ctx, AdminIdentity admin) throws Exception;
    }

    private void admin(Context ctx, AdminHandler handler) throws Exception {
        AdminIdentity admin;
        try {
            admin = adminAuth.authenticate(ctx.header("Authorization"));
        } catch (AdminAuthException e) {
            if (e.status() == 401) {
                ctx.header("WWW-Authenticate", "Bearer");
            }
            throw new HttpProblem(e.status(), e.getMessage(), List.of());
        }
        handler.handle(ctx, admin);
    }

    private void getUsers(Context ctx, AdminIdentity admin) {
        int limit = intParam(ctx, "limit", 100, 1, 10_000);
        json(ctx, 200, Map.of("users", reports.users(limit)));
    }

    private void getAnalytics(Context ctx, AdminIdentity admin) {
        json(ctx, 200, reports.analytics(month(ctx.queryParam("month")), intParam(ctx, "top", 10, 1, 1000)));
    }

    private void resetUsage(Context ctx, AdminIdentity admin) throws Exception {
        UUID user = userId(ctx);
        AdminRequests.ResetUsage body = AdminRequests.ResetUsage.parse(ctx.body());
        YearMonth month = body.month() == null ? LimitRules.monthOf(clock.instant()) : body.month();
        boolean dryRun = Boolean.TRUE.equals(body.dryRun());
        Instant now = clock.instant();
        AdminRequests.ResetUsage.requireWithinHorizon(month, now, config.resetHorizon());
        MonthlySummary usage = resolve(requireQueries().usage(user, month, false), MonthlySummary.class);
        LimitAnswer limit = resolve(requireQueries().limit(user, false), LimitAnswer.class);
        var before = AdminRequests.UsageSnapshot.of(usage.units(), limit.effectiveLimit());
        // From the reset instant the month counts only events after it; none has happened yet.
        var after = AdminRequests.UsageSnapshot.of(0, limit.effectiveLimit());
        String commandId = commandId(body.commandId());
        if (!dryRun) {
            publish(new AdminCommand.ResetUsage(commandId, user, month, now, now, admin.email()));
        }
        LOG.info("admin {} {} usage reset of {} for {} (command {})", admin.email(), dryRun ? "previewed" : "issued",
                user, month, commandId);
        json(ctx, dryRun ? 200 : 202, new AdminRequests.ResetUsageResult(commandId, dryRun, !dryRun, user, month, now,
                before, after));
    }

    private void addCredits(Context ctx, AdminIdentity admin) throws Exception {
        UUID user = userId(ctx);
        AdminRequests.AddCredits body = AdminRequests.AddCredits.parse(ctx.body());
        String commandId = commandId(body.commandId());
        publish(new AdminCommand.AddBonusCredits(commandId, user, body.amount(), clock.instant(), admin.email()));
        LOG.info("admin {} added {} bonus credits to {} (command {})", admin.email(), body.amount(), user, commandId);
        json(ctx, 202, new AdminRequests.CommandAccepted(commandId, "add_bonus_credits", user, true));
    }

    private void setPlan(Context ctx, AdminIdentity admin) throws Exception {
        UUID user = userId(ctx);
        AdminRequests.SetPlan body = AdminRequests.SetPlan.parse(ctx.body());
        if (requireQueries().plan(body.plan()).isEmpty()) {
            throw new HttpProblem(400, "unknown plan",
                    List.of(new ApiError.FieldViolation("plan", "not in subscription_limits: " + body.plan())));
        }
        String commandId = commandId(body.commandId());
        publish(new AdminCommand.SetPlan(commandId, user, body.plan(), clock.instant(), admin.email()));
        LOG.info("admin {} moved {} to plan {} (command {})", admin.email(), user, body.plan(), commandId);
        json(ctx, 202, new AdminRequests.CommandAccepted(commandId, "set_plan", user, true));
    }

    /** Body of {@code POST /v1/admin/replay}: {@code month} or {@code from}, and {@code dry_run}. */
    record ReplayRequest(YearMonth month, Instant from, Boolean dryRun) {
    }

    private void startReplay(Context ctx, AdminIdentity admin) {
        ReplayRunner runner = requireReplays();
        ReplayRequest body = body(ctx, ReplayRequest.class, null);
        if ((body.month() == null) == (body.from() == null)) {
            throw new HttpProblem(400, "give exactly one of month (YYYY-MM) or from (RFC 3339)", List.of());
        }
        boolean dryRun = Boolean.TRUE.equals(body.dryRun());
        ReplayRunner.Request request = body.month() != null
                ? ReplayRunner.Request.month(body.month(), dryRun) : ReplayRunner.Request.from(body.from(), dryRun);
        try {
            String jobId = runner.start(request);
            LOG.info("admin {} started replay {} of {}", admin.email(), jobId, request);
            json(ctx, 202, Map.of("job_id", jobId));
        } catch (ReplayRunner.InvalidRequest e) {
            throw new HttpProblem(400, e.getMessage(), List.of(new ApiError.FieldViolation(e.field(), e.getMessage())));
        } catch (ReplayRunner.Refused e) {
            throw new HttpProblem(409, e.getMessage(), List.of());
        }
    }

    private void getReplay(Context ctx, AdminIdentity admin) {
        ReplayRunner.JobStatus job = requireReplays().job(ctx.pathParam("job_id"))
                .orElseThrow(() -> new HttpProblem(404, "no replay job " + ctx.pathParam("job_id") + " on this instance",
                        List.of()));
        json(ctx, 200, job);
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
            throw new HttpProblem(400, "command_id must be 1 to 200 characters", List.of());
        }
        return given;
    }

    // ---- request parsing and answers

    /** A request refused with a status, a message and details; rendered as {@link ApiError}. */
    private static final class HttpProblem extends RuntimeException {
        final int status;
        final List<?> details;
        /** Whether a 503 passes (answered with {@code Retry-After}). */
        final boolean passing;

        HttpProblem(int status, String message, List<?> details) {
            this(status, message, details, true);
        }

        HttpProblem(int status, String message, List<?> details, boolean passing) {
            super(message, null, false, false);
            this.status = status;
            this.details = details;
            this.passing = passing;
        }
    }

    @FunctionalInterface
    private interface Handler {
        void handle(Context ctx) throws Exception;
    }

    private void timed(Context ctx, String route, Handler handler) throws Exception {
        Timer.Sample sample = Timer.start(registry);
        try {
            handler.handle(ctx);
        } catch (HttpProblem problem) {
            if (problem.status == 503 && problem.passing) {
                ctx.header("Retry-After", RETRY_AFTER_SECONDS);
            }
            json(ctx, problem.status, new ApiError(problem.getMessage(), problem.details));
        } catch (AdminRequests.Invalid invalid) {
            json(ctx, 400, new ApiError(invalid.getMessage(), invalid.details()));
        } finally {
            int status = ctx.statusCode();
            sample.stop(requestTimers.computeIfAbsent(route + '|' + status, k -> Timer.builder("meter.enforcer.request")
                    .description("Request latency").tag("route", route).tag("status", Integer.toString(status))
                    .publishPercentileHistogram().register(registry)));
        }
    }

    private static UUID userId(Context ctx) {
        String raw = ctx.pathParam("user_id");
        if (!isUuidText(raw)) {
            throw new HttpProblem(400, "malformed user id",
                    List.of(new ApiError.FieldViolation("user_id", "must be a UUID such as 7c9e6679-7425-40de-944b-e07fc1f90ae7")));
        }
        return UUID.fromString(raw);
    }

    /**
     * Whether {@code raw} is a UUID in its canonical 8-4-4-4-12 hex form ({@link UUID#fromString} alone accepts
     * shorter groups). A loop, not a regex: it runs on every limit check.
     */
    static boolean isUuidText(String raw) {
        if (raw.length() != 36) {
            return false;
        }
        for (int i = 0; i < 36; i++) {
            char c = raw.charAt(i);
            boolean ok = i == 8 || i == 13 || i == 18 || i == 23 ? c == '-'
                    : (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private YearMonth month(String raw) {
        if (raw == null || raw.isBlank()) {
            return LimitRules.monthOf(clock.instant());
        }
        try {
            return YearMonth.parse(raw);
        } catch (DateTimeParseException e) {
            throw new HttpProblem(400, "malformed month",
                    List.of(new ApiError.FieldViolation("month", "must be YYYY-MM, was '" + raw + "'")));
        }
    }

    private static int intParam(Context ctx, String name, int fallback, int min, int max) {
        String raw = ctx.queryParam(name);
        if (raw == null || raw.isBlank()) {
            return fallback;
        }
        try {
            int v = Integer.parseInt(raw);
            if (v < min || v > max) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new HttpProblem(400, "malformed " + name,
                    List.of(new ApiError.FieldViolation(name, "must be an integer in " + min + ".." + max)));
        }
    }

    private static <T> T body(Context ctx, Class<T> type, T whenEmpty) {
        String text = ctx.body();
        if (text == null || text.isBlank()) {
            if (whenEmpty != null) {
                return whenEmpty;
            }
            throw new HttpProblem(400, "a JSON body is required", List.of());
        }
        try {
            return Json.read(text, type);
        } catch (JsonProcessingException e) {
            throw new HttpProblem(400, "malformed JSON body", List.of(e.getOriginalMessage()));
        }
    }

    private static void json(Context ctx, int status, Object body) {
        byte[] bytes;
        try {
            // Straight to UTF-8 bytes, which is what Javalin sends: no intermediate String.
            bytes = JSON_WRITER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("could not write " + body.getClass().getSimpleName() + " as JSON", e);
        }
        ctx.status(status).contentType(JSON).result(bytes);
    }
}
