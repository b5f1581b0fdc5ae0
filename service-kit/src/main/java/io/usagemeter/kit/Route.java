package io.usagemeter.kit;

import io.javalin.http.HandlerType;
import java.util.Objects;

/**
 * One route of a service: method, path (Javalin syntax, e.g. {@code /v1/limits/{user_id}}), a short
 * name for metrics, what it needs from the caller, and its handler. Every route is subject to the
 * in-flight bound; the kit's own operational routes ({@code /health/*}, {@code /metrics}) are not.
 */
public record Route(HandlerType method, String path, String name, Access access, RouteHandler handler) {

    public Route {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(handler, "handler");
    }

    public static Route get(String path, String name, Access access, RouteHandler handler) {
        return new Route(HandlerType.GET, path, name, access, handler);
    }

    public static Route post(String path, String name, Access access, RouteHandler handler) {
        return new Route(HandlerType.POST, path, name, access, handler);
    }

    public static Route put(String path, String name, Access access, RouteHandler handler) {
        return new Route(HandlerType.PUT, path, name, access, handler);
    }
}
