package io.usagemeter.kit;

import io.javalin.http.Context;

/** A route's work, run once the kit admitted and authenticated the request. */
@FunctionalInterface
public interface RouteHandler {

    /**
     * @param caller who the kit authenticated ({@link Caller#ANONYMOUS} on open routes)
     * @throws HttpProblem to refuse the request with the error shape
     */
    void handle(Context ctx, Caller caller) throws Exception;
}
