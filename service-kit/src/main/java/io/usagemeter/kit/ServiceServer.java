package io.usagemeter.kit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.http.staticfiles.Location;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.usagemeter.kit.auth.AdminAuthenticator;
import io.usagemeter.kit.internal.Authorizer;
import io.usagemeter.kit.internal.ConnectionCap;
import io.usagemeter.kit.internal.RouteMetrics;
import io.usagemeter.kit.keys.ApiKeyAuthenticator;
import io.usagemeter.schema.json.Json;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP server of every service, built from the service's routes. It gives each service the
 * same answers and the same bounds:
 * <ul>
 *   <li>errors as {@link ApiError}, health as {@link Health} on {@code /health/live} and
 *       {@code /health/ready}, Prometheus text on {@code /metrics};</li>
 *   <li>the API-key and admin-JWT checks each {@link Route} asks for ({@link Access});</li>
 *   <li>a request body limit (413), a connection cap (connections past it are closed at accept) and
 *       a bound on requests in flight (503 with {@code Retry-After} at once past it);</li>
 *   <li>a request timer per route and status, registered once; gauges of open connections and
 *       requests in flight, counters of shed requests and refused connections;</li>
 *   <li>graceful shutdown: new requests are shed, those in flight get up to
 *       {@link #SHUTDOWN_GRACE} to finish;</li>
 *   <li>optionally, {@link StaticFiles} from the classpath (a page and its assets), each set with its own
 *       headers and {@code X-Content-Type-Options: nosniff}; like the operational routes they are not
 *       counted against the in-flight bound and need no credential.</li>
 * </ul>
 * A route's handler runs on Jetty's thread with nothing between it and the socket but the
 * in-flight counter, the credential check and one timer lookup.
 */
public final class ServiceServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ServiceServer.class);
    public static final String JSON = "application/json";
    private static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";
    static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(5);
    /** Seconds a shed client should wait; clients add their own backoff. */
    static final String RETRY_AFTER_SECONDS = "1";
    /** Jetty's acceptor, selectors and the operational routes need threads beyond the in-flight bound. */
    private static final int SPARE_THREADS = 24;
    private static final ObjectWriter WRITER = Json.writer();

    private final String service;
    private final HttpLimits limits;
    private final Javalin app;
    private final Authorizer authorizer;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicReference<ConnectionCap> cap = new AtomicReference<>();
    private final Counter shed;
    private final byte[] shedBody;
    private volatile boolean closing;

    private ServiceServer(Builder b) {
        this.service = b.service;
        this.limits = b.limits;
        this.authorizer = new Authorizer(b.apiKeys, b.admins);
        PrometheusMeterRegistry registry = b.registry;
        this.shed = Counter.builder("meter.http.requests.shed")
                .description("Requests answered 503 at once because the in-flight bound was reached")
                .tag("service", service).register(registry);
        Counter refused = Counter.builder("meter.http.connections.refused")
                .description("Connections closed at accept because the connection cap was reached")
                .tag("service", service).register(registry);
        Gauge.builder("meter.http.requests.in_flight", inFlight, AtomicInteger::get)
                .description("Requests being served (health and metrics excluded)")
                .tag("service", service).register(registry);
        Gauge.builder("meter.http.connections.open", cap, c -> c.get() == null ? 0 : c.get().open())
                .description("Open HTTP connections")
                .tag("service", service).register(registry);
        this.shedBody = bytes(new ApiError("overloaded: " + limits.maxInFlight() + " requests in flight; retry later",
                List.of()));
        String timerName = "meter." + service + ".request";
        List<Route> routes = List.copyOf(b.routes);
        List<Health.Check> live = List.copyOf(b.live);
        List<Health.Check> ready = List.copyOf(b.ready);
        List<StaticFiles> staticFiles = List.copyOf(b.staticFiles);
        this.app = Javalin.create(config -> {
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.http.maxRequestSize = limits.maxBodyBytes();
            config.http.prefer405over404 = true;
            if (b.responseBufferSize != null) {
                config.http.responseBufferSize = b.responseBufferSize;
            }
            QueuedThreadPool threads = new QueuedThreadPool(limits.maxInFlight() + SPARE_THREADS, 4);
            threads.setName(service + "-http");
            config.jetty.threadPool = threads;
            config.jetty.modifyServer(server -> {
                cap.set(new ConnectionCap(limits.maxConnections(), server, refused));
                server.setStopTimeout(SHUTDOWN_GRACE.toMillis());
            });
            for (Route route : routes) {
                RouteMetrics metrics = new RouteMetrics(registry, timerName, route.name());
                config.routes.addHttpHandler(route.method(), route.path(), ctx -> serve(route, metrics, ctx));
            }
            for (StaticFiles files : staticFiles) {
                Map<String, String> headers = new LinkedHashMap<>(files.headers());
                headers.put("X-Content-Type-Options", "nosniff");
                config.staticFiles.add(sf -> {
                    sf.hostedPath = files.hostedPath();
                    sf.directory = files.classpathDirectory();
                    sf.location = Location.CLASSPATH;
                    sf.headers = headers;
                });
            }
            config.routes.get("/metrics", ctx -> ctx.contentType(PROMETHEUS_TEXT).result(registry.scrape()));
            config.routes.get("/health/live", ctx -> health(ctx, live, "not live"));
            config.routes.get("/health/ready", ctx -> health(ctx, ready, "not ready"));
            config.routes.error(404, ctx -> {
                if (ctx.result() == null) {
                    json(ctx, 404, ApiError.of("no route " + ctx.method() + " " + ctx.path()));
                }
            });
            config.routes.error(405, ctx -> {
                if (ctx.result() == null) {
                    json(ctx, 405, ApiError.of("method " + ctx.method() + " not allowed on " + ctx.path()));
                }
            });
            config.routes.exception(HttpResponseException.class, (e, ctx) -> json(ctx, e.getStatus(), errorOf(e, ctx)));
            config.routes.exception(Exception.class, (e, ctx) -> {
                LOG.error("unexpected failure on {} {}", ctx.method(), ctx.path(), e);
                json(ctx, 500, ApiError.of("internal error"));
            });
        });
    }

    public static Builder builder(String service, PrometheusMeterRegistry registry) {
        return new Builder(service, registry);
    }

    /** Starts serving on {@code port} (0 for a free one). */
    public ServiceServer start(int port) {
        app.start(port);
        LOG.info("{} HTTP on port {} (at most {} connections, {} requests in flight, {} bytes per body)", service,
                app.port(), limits.maxConnections(), limits.maxInFlight(), limits.maxBodyBytes());
        return this;
    }

    public int port() {
        return app.port();
    }

    public HttpLimits limits() {
        return limits;
    }

    /**
     * Every route this server answers, read from its router: {@code "GET /v1/limits/{user_id}"}, method and
     * path in Javalin's syntax, the service's routes and the kit's operational ones, sorted.
     */
    public List<String> routes() {
        return app.unsafe.internalRouter.allHttpHandlers().stream()
                .map(handler -> handler.endpoint)
                .filter(endpoint -> endpoint.method.isHttpMethod())
                .map(endpoint -> endpoint.method.name() + " " + endpoint.path)
                .sorted()
                .toList();
    }

    /** Requests being served now (health and metrics excluded). */
    public int inFlight() {
        return inFlight.get();
    }

    /** Sheds new requests, lets those in flight finish within {@link #SHUTDOWN_GRACE}, then stops. */
    @Override
    public void close() {
        closing = true;
        long deadline = System.nanoTime() + SHUTDOWN_GRACE.toNanos();
        while (inFlight.get() > 0 && System.nanoTime() - deadline < 0) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (inFlight.get() > 0) {
            LOG.warn("{}: {} requests still in flight after {}; stopping anyway", service, inFlight.get(), SHUTDOWN_GRACE);
        }
        app.stop();
    }

    private void serve(Route route, RouteMetrics metrics, Context ctx) {
        long started = System.nanoTime();
        if (inFlight.incrementAndGet() > limits.maxInFlight() || closing) {
            inFlight.decrementAndGet();
            shed.increment();
            ctx.header("Retry-After", RETRY_AFTER_SECONDS);
            ctx.status(503).contentType(JSON).result(shedBody);
            metrics.record(503, System.nanoTime() - started);
            return;
        }
        try {
            Caller caller = authorizer.authorize(route.access(), ctx.header("Authorization"));
            route.handler().handle(ctx, caller);
        } catch (HttpProblem problem) {
            problem(ctx, problem);
        } catch (HttpResponseException e) {
            json(ctx, e.getStatus(), errorOf(e, ctx));
        } catch (Exception e) {
            LOG.error("unexpected failure on {} {}", ctx.method(), ctx.path(), e);
            json(ctx, 500, ApiError.of("internal error"));
        } finally {
            inFlight.decrementAndGet();
            metrics.record(ctx.statusCode(), System.nanoTime() - started);
        }
    }

    private static void health(Context ctx, List<Health.Check> checks, String downError) {
        Health.Report report = Health.evaluate(checks, downError);
        json(ctx, report.status(), report.body());
    }

    private static ApiError errorOf(HttpResponseException e, Context ctx) {
        if (e.getStatus() == 404) {
            return ApiError.of("no route " + ctx.method() + " " + ctx.path());
        }
        if (e.getStatus() == 405) {
            return ApiError.of("method " + ctx.method() + " not allowed on " + ctx.path());
        }
        return new ApiError(e.getMessage(), e.getDetails().entrySet().stream()
                .map(entry -> entry.getKey() + ": " + entry.getValue()).toList());
    }

    /** Answers {@code problem} in the error shape, with {@code WWW-Authenticate} on 401 and {@code Retry-After} on a retryable 503. */
    public static void problem(Context ctx, HttpProblem problem) {
        if (problem.status() == 401) {
            ctx.header("WWW-Authenticate", "Bearer");
        } else if (problem.retryable()) {
            ctx.header("Retry-After", RETRY_AFTER_SECONDS);
        }
        json(ctx, problem.status(), problem.body());
    }

    /**
     * Answers {@code body}, written before (a limit answer's JSON, written once per state), straight to the response
     * with its length: a byte result given to Javalin is copied through a stream and a buffer of its own first. Only
     * for a successful answer: the kit's error handlers do not see a body written this way.
     */
    public static void send(Context ctx, int status, String contentType, byte[] body) throws IOException {
        HttpServletResponse response = ctx.res();
        response.setStatus(status);
        response.setContentType(contentType);
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
    }

    /** The one way every service writes a JSON answer: straight to UTF-8 bytes with the one mapper. */
    public static void json(Context ctx, int status, Object body) {
        ctx.status(status).contentType(JSON).result(bytes(body));
    }

    private static byte[] bytes(Object body) {
        try {
            return WRITER.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("could not write " + body.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** What a service's server is made of. */
    public static final class Builder {
        private final String service;
        private final PrometheusMeterRegistry registry;
        private final List<Route> routes = new ArrayList<>();
        private final List<Health.Check> live = new ArrayList<>();
        private final List<Health.Check> ready = new ArrayList<>();
        private final List<StaticFiles> staticFiles = new ArrayList<>();
        private HttpLimits limits = HttpLimits.defaults();
        private ApiKeyAuthenticator apiKeys;
        private AdminAuthenticator admins;
        private Integer responseBufferSize;

        private Builder(String service, PrometheusMeterRegistry registry) {
            this.service = Objects.requireNonNull(service, "service");
            this.registry = Objects.requireNonNull(registry, "registry");
        }

        public Builder limits(HttpLimits l) {
            this.limits = Objects.requireNonNull(l, "limits");
            return this;
        }

        public Builder routes(List<Route> r) {
            routes.addAll(r);
            return this;
        }

        public Builder route(Route r) {
            routes.add(r);
            return this;
        }

        /** A check of {@code /health/live}: fails only when the process should be restarted. */
        public Builder live(Health.Check check) {
            live.add(check);
            return this;
        }

        /** A check of {@code /health/ready}: fails while the service cannot do its job. */
        public Builder ready(Health.Check check) {
            ready.add(check);
            return this;
        }

        /** Serves {@code files}; where sets overlap, the first added that holds a file answers. */
        public Builder staticFiles(StaticFiles files) {
            staticFiles.add(Objects.requireNonNull(files, "files"));
            return this;
        }

        /** Serves each set in order; where sets overlap, the first that holds a file answers. */
        public Builder staticFiles(List<StaticFiles> files) {
            files.forEach(this::staticFiles);
            return this;
        }

        public Builder apiKeys(ApiKeyAuthenticator authenticator) {
            this.apiKeys = authenticator;
            return this;
        }

        public Builder admins(AdminAuthenticator authenticator) {
            this.admins = authenticator;
            return this;
        }

        /**
         * Jetty's per-request output buffer; a route whose answers are small (a limit answer fits in 4 KiB)
         * saves allocating the default 32 KiB per request.
         */
        public Builder responseBufferSize(int bytes) {
            this.responseBufferSize = bytes;
            return this;
        }

        public ServiceServer build() {
            return new ServiceServer(this);
        }
    }
}
