package io.usagemeter.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.usagemeter.enforcer.LimitRules;
import io.usagemeter.enforcer.db.AdminReports;
import io.usagemeter.enforcer.http.AdminRequests;
import io.usagemeter.schema.config.ApiAccess;
import io.usagemeter.schema.config.DatabaseSettings;
import io.usagemeter.schema.config.KafkaSettings;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jooq.DSLContext;
import org.jooq.SQLDialect;
import org.jooq.impl.DSL;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * The enforcer's admin verbs: {@code reset-usage}, {@code add-credits}, {@code set-plan}, {@code users},
 * {@code analytics}. Each works over the admin API ({@code METER_ENFORCER_URL} + {@code METER_ADMIN_TOKEN})
 * when both are set, otherwise directly against Kafka ({@code METER_KAFKA_BOOTSTRAP}) and PostgreSQL
 * ({@code METER_DB_URL}, ...), and says which.
 */
final class EnforcerAdminCommands {

    private EnforcerAdminCommands() {
    }

    /** A verb's admin API call; {@code body} is written as JSON, null for none. */
    record ApiRequest(String method, String path, Object body) {
    }

    /** A verb's work against Kafka and PostgreSQL directly. */
    @FunctionalInterface
    interface Direct {
        void run() throws Exception;
    }

    /** {@code --command-id}: the id of the admin command the verb issues, so a retry applies once. */
    static final class CommandIdOption {
        @Option(names = "--command-id", description = "reuse to retry without applying twice (default: random)")
        String given;

        /** The given id, or a fresh random one (drawn once per call: use the result for the whole verb). */
        String orRandom() {
            return given == null ? UUID.randomUUID().toString() : given;
        }
    }

    /** Where a verb goes: the admin API or Kafka and PostgreSQL directly. */
    abstract static class AdminVerb implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--via", description = "api (METER_ENFORCER_URL + METER_ADMIN_TOKEN) or direct "
                + "(METER_KAFKA_BOOTSTRAP, METER_DB_URL); default: api when both API variables are set")
        String via;

        final Map<String, String> env;
        final Clock clock = Clock.systemUTC();

        AdminVerb(Map<String, String> env) {
            this.env = env;
        }

        boolean overApi() {
            boolean apiConfigured = api().adminApi();
            if (via == null) {
                return apiConfigured;
            }
            return switch (via) {
                case "api" -> {
                    if (!apiConfigured) {
                        throw new IllegalArgumentException("--via api needs METER_ENFORCER_URL and METER_ADMIN_TOKEN");
                    }
                    yield true;
                }
                case "direct" -> false;
                default -> throw new IllegalArgumentException("--via must be api or direct, was " + via);
            };
        }

        /**
         * Runs the verb where {@link #overApi()} says: over the admin API, printing its JSON answer, or
         * {@code direct}ly against Kafka and PostgreSQL. Either way the verb succeeded (exit code 0); failures throw.
         */
        int apiOrDirect(ApiRequest request, Direct direct) throws Exception {
            if (overApi()) {
                printJson(api(request.method(), request.path(), request.body()));
            } else {
                direct.run();
            }
            return 0;
        }

        YearMonth monthOrCurrent(YearMonth month) {
            return month == null ? LimitRules.monthOf(clock.instant()) : month;
        }

        ApiAccess api() {
            return ApiAccess.from(MeterEnvironment.of(env));
        }

        PrintWriter out() {
            return spec.commandLine().getOut();
        }

        void say(String line) {
            spec.commandLine().getErr().println(line);
        }

        // ---- API

        JsonNode api(String method, String path, Object body) throws Exception {
            URI base = api().enforcerUrl();
            say("via admin API at " + base);
            HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path))
                    .timeout(Duration.ofSeconds(15))
                    .header("Authorization", "Bearer " + api().adminToken())
                    .header("Content-Type", "application/json");
            request.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(Json.write(body)));
            HttpResponse<String> response = HttpClient.newHttpClient().send(request.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode json = response.body().isBlank() ? null : Json.tree(response.body());
            if (response.statusCode() >= 300) {
                String error = json != null && json.has("error") ? json.get("error").asText() : response.body();
                throw new IllegalStateException("admin API answered " + response.statusCode() + ": " + error
                        + (json != null && json.has("details") && !json.get("details").isEmpty() ? " " + json.get("details") : ""));
            }
            return json;
        }

        // ---- direct

        DSLContext database() {
            ServiceDatabaseConfig db = ServiceDatabaseConfig.fromEnvironment(env);
            say("via PostgreSQL at " + db.maskedUrl());
            org.postgresql.ds.PGSimpleDataSource ds = new org.postgresql.ds.PGSimpleDataSource();
            ds.setUrl(db.url());
            ds.setUser(db.user());
            ds.setPassword(db.password());
            return DSL.using(ds, SQLDialect.POSTGRES);
        }

        void publish(AdminCommand command) throws Exception {
            String bootstrap = KafkaSettings.ifSet(MeterEnvironment.of(env)).orElseThrow(() -> new IllegalArgumentException(
                    "set METER_KAFKA_BOOTSTRAP (direct mode) or METER_ENFORCER_URL and METER_ADMIN_TOKEN (admin API)"))
                    .bootstrapServers();
            say("via Kafka at " + bootstrap);
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ProducerConfig.ACKS_CONFIG, "all");
            p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
            try (var producer = new KafkaProducer<>(p, new StringSerializer(), Topics.ADMIN_COMMANDS.valueSerde().serializer())) {
                producer.send(new ProducerRecord<>(Topics.ADMIN_COMMANDS.name(), null, command.issuedAt().toEpochMilli(),
                        command.userId().toString(), command)).get(30, TimeUnit.SECONDS);
            }
        }

        String issuer() {
            return "cli:" + System.getProperty("user.name", "unknown");
        }

        void printJson(Object value) throws Exception {
            out().println(Json.writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(value));
        }
    }

    @Command(name = "reset-usage", mixinStandardHelpOptions = true,
            description = "Reset a user's usage of a month from now on (only events after the reset count).")
    static final class ResetUsage extends AdminVerb {
        ResetUsage(Map<String, String> env) {
            super(env);
        }

        @Parameters(index = "0", paramLabel = "USER_ID")
        UUID user;

        @Option(names = "--month", paramLabel = "YYYY-MM", description = "default: the current month (UTC)")
        YearMonth month;

        @Option(names = "--dry-run", description = "show usage before and after without publishing the reset")
        boolean dryRun;

        @Mixin
        CommandIdOption commandId;

        @Override
        public Integer call() throws Exception {
            YearMonth m = monthOrCurrent(month);
            String id = commandId.orRandom();
            AdminRequests.ResetUsage request = new AdminRequests.ResetUsage(m, dryRun, id);
            // The route's checks, before anything is sent (the horizon as the aggregator is configured here).
            AdminRequests.require(request.violations());
            AdminRequests.ResetUsage.requireWithinHorizon(m, clock.instant(), ResetHorizon.fromEnv(env));
            return apiOrDirect(new ApiRequest("POST", "/v1/admin/users/" + user + "/reset-usage", request),
                    () -> resetDirectly(m, id));
        }

        /** Publishes the reset and prints what the admin API would answer, from get_user_usage_stats. */
        private void resetDirectly(YearMonth m, String id) throws Exception {
            var stats = database().resultQuery("SELECT used, effective_limit FROM get_user_usage_stats(?, ?)", user,
                    m.atDay(1)).fetchOne();
            long used = stats == null ? 0 : stats.get(0, Long.class);
            long limit = stats == null ? 0 : stats.get(1, Long.class);
            Instant now = clock.instant();
            if (!dryRun) {
                publish(new AdminCommand.ResetUsage(id, user, m, now, now, issuer()));
            }
            printJson(new AdminRequests.ResetUsageResult(id, dryRun, !dryRun, user, m, now,
                    AdminRequests.UsageSnapshot.of(used, limit), AdminRequests.UsageSnapshot.of(0, limit)));
        }
    }

    @Command(name = "add-credits", mixinStandardHelpOptions = true,
            description = "Add bonus credits to a user's allowance (every month).")
    static final class AddCredits extends AdminVerb {
        AddCredits(Map<String, String> env) {
            super(env);
        }

        @Parameters(index = "0", paramLabel = "USER_ID")
        UUID user;

        @Parameters(index = "1", paramLabel = "AMOUNT")
        long amount;

        @Mixin
        CommandIdOption commandId;

        @Override
        public Integer call() throws Exception {
            String id = commandId.orRandom();
            AdminRequests.AddCredits request = new AdminRequests.AddCredits(amount, id);
            AdminRequests.require(request.violations());
            return apiOrDirect(new ApiRequest("POST", "/v1/admin/users/" + user + "/credits", request), () -> {
                publish(new AdminCommand.AddBonusCredits(id, user, amount, clock.instant(), issuer()));
                out().println("published add_bonus_credits " + id + ": +" + amount + " for " + user);
            });
        }
    }

    @Command(name = "set-plan", mixinStandardHelpOptions = true, description = "Move a user to a plan of subscription_limits.")
    static final class SetPlan extends AdminVerb {
        SetPlan(Map<String, String> env) {
            super(env);
        }

        @Parameters(index = "0", paramLabel = "USER_ID")
        UUID user;

        @Parameters(index = "1", paramLabel = "PLAN")
        String plan;

        @Mixin
        CommandIdOption commandId;

        @Override
        public Integer call() throws Exception {
            String id = commandId.orRandom();
            AdminRequests.SetPlan request = new AdminRequests.SetPlan(plan, id);
            AdminRequests.require(request.violations());
            return apiOrDirect(new ApiRequest("PUT", "/v1/admin/users/" + user + "/plan", request),
                    () -> setPlanDirectly(id));
        }

        /** Refuses a plan subscription_limits does not know (when the database is configured), then publishes. */
        private void setPlanDirectly(String id) throws Exception {
            if (DatabaseSettings.ifSet(MeterEnvironment.of(env)).isPresent()) {
                Integer known = database().resultQuery("SELECT count(*) FROM subscription_limits WHERE plan = ?", plan)
                        .fetchOne(0, Integer.class);
                if (known == null || known == 0) {
                    throw new IllegalArgumentException("unknown plan '" + plan + "' (not in subscription_limits)");
                }
            }
            publish(new AdminCommand.SetPlan(id, user, plan, clock.instant(), issuer()));
            out().println("published set_plan " + id + ": " + user + " → " + plan);
        }
    }

    @Command(name = "users", mixinStandardHelpOptions = true,
            description = "Users with plan, referrals, credits, limit and this month's usage (admin_user_overview).")
    static final class Users extends AdminVerb {
        Users(Map<String, String> env) {
            super(env);
        }

        @Option(names = "--limit", defaultValue = "100")
        int limit;

        @Override
        public Integer call() throws Exception {
            return apiOrDirect(new ApiRequest("GET", "/v1/admin/users?limit=" + limit, null),
                    () -> printJson(Map.of("users", new AdminReports(database()).users(limit))));
        }
    }

    @Command(name = "analytics", mixinStandardHelpOptions = true,
            description = "A month's totals: users, calls, units used, users per state, top users (user_usage_overview).")
    static final class Analytics extends AdminVerb {
        Analytics(Map<String, String> env) {
            super(env);
        }

        @Option(names = "--month", paramLabel = "YYYY-MM", description = "default: the current month (UTC)")
        YearMonth month;

        @Option(names = "--top", defaultValue = "10")
        int top;

        @Override
        public Integer call() throws Exception {
            YearMonth m = monthOrCurrent(month);
            return apiOrDirect(new ApiRequest("GET", "/v1/admin/analytics?month=" + m + "&top=" + top, null),
                    () -> printJson(new AdminReports(database()).analytics(m, top)));
        }
    }
}
