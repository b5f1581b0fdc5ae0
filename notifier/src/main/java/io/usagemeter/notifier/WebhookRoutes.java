package io.usagemeter.notifier;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.usagemeter.kit.Access;
import io.usagemeter.kit.ApiError;
import io.usagemeter.kit.Caller;
import io.usagemeter.kit.HttpProblem;
import io.usagemeter.kit.Route;
import io.usagemeter.kit.RouteHandler;
import io.usagemeter.kit.ServiceServer;
import io.usagemeter.schema.json.Json;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * The webhook admin API under {@code /v1/admin/webhooks}, for holders of an admin JWT (checked by the
 * kit, as on the enforcer). Refusals are {@link HttpProblem}s, answered by the kit as {@link ApiError}.
 */
final class WebhookRoutes {

    private static final int DEFAULT_DELIVERIES = 50;
    private static final int MAX_DELIVERIES = 1000;
    private static final String REGISTRATION_FIELDS = "url, event_types";

    private final WebhookAdmin admin;

    WebhookRoutes(WebhookAdmin admin) {
        this.admin = admin;
    }

    List<Route> routes() {
        Access admin = Access.admin();
        return List.of(
                Route.post("/v1/admin/webhooks", "admin_webhooks_create", admin, refusingFields(this::register)),
                Route.get("/v1/admin/webhooks", "admin_webhooks_list", admin,
                        (ctx, caller) -> ServiceServer.json(ctx, 200, Map.of("webhooks", this.admin.list()))),
                new Route(HandlerType.DELETE, "/v1/admin/webhooks/{id}", "admin_webhooks_delete", admin, this::delete),
                Route.post("/v1/admin/webhooks/{id}/rotate-secret", "admin_webhooks_rotate", admin, this::rotate),
                Route.get("/v1/admin/webhooks/{id}/deliveries", "admin_webhooks_deliveries", admin, this::deliveries),
                Route.post("/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry", "admin_webhooks_retry", admin,
                        this::retry));
    }

    /** A field {@link WebhookAdmin} refuses is a 400 naming it. */
    private static RouteHandler refusingFields(RouteHandler handler) {
        return (ctx, caller) -> {
            try {
                handler.handle(ctx, caller);
            } catch (WebhookAdmin.InvalidField e) {
                throw HttpProblem.badField("invalid " + e.field() + ": " + e.getMessage(), e.field(), e.getMessage());
            }
        };
    }

    private void register(Context ctx, Caller caller) {
        ServiceServer.json(ctx, 201, admin.register(registration(ctx.body())));
    }

    /** The body, or a 400 naming the field that is unknown or of the wrong type. */
    static WebhookAdmin.Registration registration(String body) {
        if (body == null || body.isBlank()) {
            throw new HttpProblem(400, "a JSON body is required: {\"url\": ..., \"event_types\": [...]}");
        }
        try {
            return Json.read(body, WebhookAdmin.Registration.class);
        } catch (UnrecognizedPropertyException e) {
            throw HttpProblem.badField("unknown field " + e.getPropertyName(), e.getPropertyName(),
                    "is not a field of a webhook: use " + REGISTRATION_FIELDS);
        } catch (JsonMappingException e) {
            String field = e.getPath().stream()
                    .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                    .collect(Collectors.joining(".")).replace(".[", "[");
            if (field.isEmpty()) {
                throw new HttpProblem(400, "the body must be a JSON object {\"url\": ..., \"event_types\": [...]}",
                        List.of(e.getOriginalMessage()));
            }
            String root = field.replaceAll("\\[.*", "");
            throw HttpProblem.badField("invalid " + field, root,
                    "url".equals(root) ? "must be a string" : "must be an array of event type names");
        } catch (JsonProcessingException e) {
            throw new HttpProblem(400, "malformed JSON body", List.of(e.getOriginalMessage()));
        }
    }

    private void delete(Context ctx, Caller caller) {
        if (!admin.delete(uuid(ctx, "id"))) {
            throw notFound(ctx);
        }
        ctx.status(204);
    }

    private void rotate(Context ctx, Caller caller) {
        ServiceServer.json(ctx, 200, admin.rotateSecret(uuid(ctx, "id")).orElseThrow(() -> notFound(ctx)));
    }

    private void deliveries(Context ctx, Caller caller) {
        UUID id = uuid(ctx, "id");
        int limit = limit(ctx);
        if (admin.find(id).isEmpty()) {
            throw notFound(ctx);
        }
        ServiceServer.json(ctx, 200, Map.of("deliveries", admin.deliveries(id, limit)));
    }

    private void retry(Context ctx, Caller caller) {
        UUID id = uuid(ctx, "id");
        UUID deliveryId = uuid(ctx, "delivery_id");
        switch (admin.retry(id, deliveryId)) {
            case QUEUED -> ServiceServer.json(ctx, 202, admin.delivery(id, deliveryId).orElseThrow(() -> notFound(ctx)));
            case ALREADY_PENDING -> throw new HttpProblem(409, "delivery " + deliveryId + " is still pending: it is"
                    + " retried on its schedule");
            case NOT_FOUND -> throw new HttpProblem(404, "no delivery " + deliveryId + " for webhook " + id);
            default -> throw new IllegalStateException();
        }
    }

    private static int limit(Context ctx) {
        String raw = ctx.queryParam("limit");
        if (raw == null || raw.isBlank()) {
            return DEFAULT_DELIVERIES;
        }
        try {
            int limit = Integer.parseInt(raw);
            if (limit >= 1 && limit <= MAX_DELIVERIES) {
                return limit;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw HttpProblem.badField("malformed limit", "limit", "must be an integer in 1.." + MAX_DELIVERIES);
    }

    private static UUID uuid(Context ctx, String name) {
        String raw = ctx.pathParam(name);
        try {
            UUID id = UUID.fromString(raw);
            if (id.toString().equalsIgnoreCase(raw)) {
                return id;
            }
        } catch (IllegalArgumentException e) {
            // answered below
        }
        throw HttpProblem.badField("malformed " + name, name, "must be a UUID");
    }

    private static HttpProblem notFound(Context ctx) {
        return new HttpProblem(404, "no webhook " + ctx.pathParam("id"));
    }
}
