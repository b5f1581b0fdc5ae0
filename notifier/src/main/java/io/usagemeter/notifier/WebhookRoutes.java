package io.usagemeter.notifier;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.kit.auth.AdminAuthException;
import io.usagemeter.kit.auth.AdminAuthenticator;
import io.usagemeter.kit.ApiError;
import io.usagemeter.schema.json.Json;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The notifier's HTTP routes: the webhook admin API under {@code /v1/admin/webhooks} (admin JWT, as on
 * the enforcer), {@code /metrics} and {@code /health/*}. One file on purpose, to move onto the shared
 * HTTP kit when it lands.
 */
public final class WebhookRoutes {

    private static final Logger LOG = LoggerFactory.getLogger(WebhookRoutes.class);
    private static final String JSON = "application/json";
    private static final int DEFAULT_DELIVERIES = 50;
    private static final int MAX_DELIVERIES = 1000;

    private final WebhookAdmin admin;
    private final AdminAuthenticator adminAuth;
    private final PrometheusMeterRegistry registry;
    private final BooleanSupplier ready;

    public WebhookRoutes(WebhookAdmin admin, AdminAuthenticator adminAuth, PrometheusMeterRegistry registry,
                         BooleanSupplier ready) {
        this.admin = admin;
        this.adminAuth = adminAuth;
        this.registry = registry;
        this.ready = ready;
    }

    public Javalin create() {
        return Javalin.create(javalin -> {
            javalin.startup.showJavalinBanner = false;
            javalin.startup.showOldJavalinVersionWarning = false;
            javalin.routes.post("/v1/admin/webhooks", ctx -> handle(ctx, this::register));
            javalin.routes.get("/v1/admin/webhooks", ctx -> handle(ctx, c -> json(c, 200, Map.of("webhooks", admin.list()))));
            javalin.routes.delete("/v1/admin/webhooks/{id}", ctx -> handle(ctx, this::delete));
            javalin.routes.post("/v1/admin/webhooks/{id}/rotate-secret", ctx -> handle(ctx, this::rotate));
            javalin.routes.get("/v1/admin/webhooks/{id}/deliveries", ctx -> handle(ctx, this::deliveries));
            javalin.routes.post("/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry", ctx -> handle(ctx, this::retry));
            javalin.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8")
                    .result(registry.scrape()));
            javalin.routes.get("/health/live", ctx -> json(ctx, 200, Map.of("status", "UP")));
            javalin.routes.get("/health/ready", ctx -> {
                boolean up = ready.getAsBoolean();
                json(ctx, up ? 200 : 503, Map.of("status", up ? "UP" : "DOWN"));
            });
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

    private void register(Context ctx) {
        WebhookAdmin.Registration registration;
        try {
            String body = ctx.body();
            if (body == null || body.isBlank()) {
                throw new Problem(400, "a JSON body is required: {\"url\": ..., \"event_types\": [...]}", List.of());
            }
            registration = Json.read(body, WebhookAdmin.Registration.class);
        } catch (JsonProcessingException e) {
            throw new Problem(400, "malformed JSON body", List.of(e.getOriginalMessage()));
        }
        json(ctx, 201, admin.register(registration));
    }

    private void delete(Context ctx) {
        if (!admin.delete(uuid(ctx, "id"))) {
            throw notFound(ctx);
        }
        ctx.status(204);
    }

    private void rotate(Context ctx) {
        json(ctx, 200, admin.rotateSecret(uuid(ctx, "id")).orElseThrow(() -> notFound(ctx)));
    }

    private void deliveries(Context ctx) {
        UUID id = uuid(ctx, "id");
        if (admin.find(id).isEmpty()) {
            throw notFound(ctx);
        }
        json(ctx, 200, Map.of("deliveries", admin.deliveries(id, limit(ctx))));
    }

    private void retry(Context ctx) {
        UUID id = uuid(ctx, "id");
        UUID deliveryId = uuid(ctx, "delivery_id");
        switch (admin.retry(id, deliveryId)) {
            case QUEUED -> json(ctx, 202, admin.delivery(id, deliveryId).orElseThrow(() -> notFound(ctx)));
            case ALREADY_PENDING -> throw new Problem(409, "delivery " + deliveryId + " is still pending: it is retried"
                    + " on its schedule", List.of());
            case NOT_FOUND -> throw new Problem(404, "no delivery " + deliveryId + " for webhook " + id, List.of());
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
        throw new Problem(400, "malformed limit",
                List.of(new ApiError.FieldViolation("limit", "must be an integer in 1.." + MAX_DELIVERIES)));
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
        throw new Problem(400, "malformed " + name, List.of(new ApiError.FieldViolation(name, "must be a UUID")));
    }

    private static Problem notFound(Context ctx) {
        return new Problem(404, "no webhook " + ctx.pathParam("id"), List.of());
    }

    /** A request refused with a status, a message and details; rendered as {@link ApiError}. */
    private static final class Problem extends RuntimeException {
        final int status;
        final List<?> details;

        Problem(int status, String message, List<?> details) {
            super(message, null, false, false);
            this.status = status;
            this.details = details;
        }
    }

    @FunctionalInterface
    private interface Handler {
        void handle(Context ctx) throws Exception;
    }

    /** Every admin route: the admin JWT first, then the handler, with refusals rendered as {@link ApiError}. */
    private void handle(Context ctx, Handler handler) throws Exception {
        try {
            try {
                adminAuth.authenticate(ctx.header("Authorization"));
            } catch (AdminAuthException e) {
                if (e.status() == 401) {
                    ctx.header("WWW-Authenticate", "Bearer");
                }
                throw new Problem(e.status(), e.getMessage(), List.of());
            }
            handler.handle(ctx);
        } catch (Problem p) {
            json(ctx, p.status, new ApiError(p.getMessage(), p.details));
        } catch (WebhookAdmin.InvalidField e) {
            json(ctx, 400, new ApiError("invalid " + e.field(),
                    List.of(new ApiError.FieldViolation(e.field(), e.getMessage()))));
        }
    }

    private static void json(Context ctx, int status, Object body) {
        ctx.status(status).contentType(JSON).result(Json.write(body));
    }
}
