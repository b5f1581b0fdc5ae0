package io.usagemeter.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.usagemeter.schema.config.ApiAccess;
import io.usagemeter.schema.config.MeterEnvironment;
import io.usagemeter.schema.json.Json;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code meter admin webhooks ...}: the notifier's webhook admin API ({@code METER_NOTIFIER_URL} with
 * {@code METER_ADMIN_TOKEN}), one verb per route, printing the JSON answer.
 */
@Command(name = "webhooks", mixinStandardHelpOptions = true,
        description = "Webhook endpoints for limit events, over the notifier's admin API (METER_NOTIFIER_URL, METER_ADMIN_TOKEN).",
        subcommands = {
            WebhookCommands.Create.class,
            WebhookCommands.ListEndpoints.class,
            WebhookCommands.Delete.class,
            WebhookCommands.RotateSecret.class,
            WebhookCommands.Deliveries.class,
            WebhookCommands.Retry.class,
        })
final class WebhookCommands implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
    }

    /** One admin API call; the answer is printed as indented JSON. */
    abstract static class Verb implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        final Map<String, String> env;

        Verb(Map<String, String> env) {
            this.env = env;
        }

        abstract String method();

        abstract String path();

        Object body() {
            return null;
        }

        @Override
        public Integer call() throws Exception {
            ApiAccess access = ApiAccess.from(MeterEnvironment.of(env));
            HttpRequest request = HttpRequest.newBuilder(access.notifierUrl().resolve(path()))
                    .timeout(Duration.ofSeconds(15))
                    .header("Authorization", "Bearer " + access.adminToken())
                    .header("Content-Type", "application/json")
                    .method(method(), body() == null ? HttpRequest.BodyPublishers.noBody()
                            : HttpRequest.BodyPublishers.ofString(Json.write(body())))
                    .build();
            HttpResponse<String> response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
            JsonNode json = response.body().isBlank() ? null : Json.tree(response.body());
            if (response.statusCode() >= 300) {
                String error = json != null && json.has("error") ? json.get("error").asText() : response.body();
                throw new IllegalStateException("notifier answered " + response.statusCode() + ": " + error
                        + (json != null && json.has("details") && !json.get("details").isEmpty() ? " " + json.get("details") : ""));
            }
            if (json != null) {
                spec.commandLine().getOut().println(Json.writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json));
            } else {
                spec.commandLine().getErr().println("done (" + response.statusCode() + ")");
            }
            return 0;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Register an endpoint; prints its id and its signing secret (whsec_..., shown only here and on rotation).")
    static final class Create extends Verb {
        @Option(names = "--url", required = true, description = "http or https URL that receives the POSTs")
        String url;

        @Option(names = "--event-types", split = ",", defaultValue = "limit.warning,limit.exceeded,limit.resolved",
                description = "comma-separated: limit.warning, limit.exceeded, limit.resolved (default: all three)")
        List<String> eventTypes;

        Create(Map<String, String> env) {
            super(env);
        }

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "/v1/admin/webhooks";
        }

        @Override
        Object body() {
            return Map.of("url", url, "event_types", eventTypes);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the endpoints (secrets are not shown).")
    static final class ListEndpoints extends Verb {
        ListEndpoints(Map<String, String> env) {
            super(env);
        }

        @Override
        String method() {
            return "GET";
        }

        @Override
        String path() {
            return "/v1/admin/webhooks";
        }
    }

    /** A verb on one endpoint. */
    abstract static class OnEndpoint extends Verb {
        @Parameters(index = "0", paramLabel = "WEBHOOK_ID")
        String id;

        OnEndpoint(Map<String, String> env) {
            super(env);
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Remove an endpoint and its delivery log.")
    static final class Delete extends OnEndpoint {
        Delete(Map<String, String> env) {
            super(env);
        }

        @Override
        String method() {
            return "DELETE";
        }

        @Override
        String path() {
            return "/v1/admin/webhooks/" + id;
        }
    }

    @Command(name = "rotate-secret", mixinStandardHelpOptions = true,
            description = "Give an endpoint a new secret; the old one keeps signing beside it for 24 h.")
    static final class RotateSecret extends OnEndpoint {
        RotateSecret(Map<String, String> env) {
            super(env);
        }

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "/v1/admin/webhooks/" + id + "/rotate-secret";
        }
    }

    @Command(name = "deliveries", mixinStandardHelpOptions = true,
            description = "The endpoint's newest deliveries, each with its attempts (status code, latency, error).")
    static final class Deliveries extends OnEndpoint {
        @Option(names = "--limit", defaultValue = "50", description = "how many deliveries, 1..1000 (default ${DEFAULT-VALUE})")
        int limit;

        Deliveries(Map<String, String> env) {
            super(env);
        }

        @Override
        String method() {
            return "GET";
        }

        @Override
        String path() {
            return "/v1/admin/webhooks/" + id + "/deliveries?limit=" + limit;
        }
    }

    @Command(name = "retry", mixinStandardHelpOptions = true,
            description = "Deliver a finished (failed or succeeded) delivery again, now, with a fresh retry schedule.")
    static final class Retry extends OnEndpoint {
        @Parameters(index = "1", paramLabel = "DELIVERY_ID")
        String deliveryId;

        Retry(Map<String, String> env) {
            super(env);
        }

        @Override
        String method() {
            return "POST";
        }

        @Override
        String path() {
            return "/v1/admin/webhooks/" + id + "/deliveries/" + deliveryId + "/retry";
        }
    }
}
