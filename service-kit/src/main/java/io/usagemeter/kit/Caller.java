package io.usagemeter.kit;

/**
 * Who made a request, as the kit authenticated it: an API key ({@code io.usagemeter.kit.keys.ApiKey}),
 * an admin ({@code io.usagemeter.kit.auth.AdminIdentity}) or nobody on an open route.
 */
public interface Caller {

    /** The caller of a route that needs no credentials. */
    Caller ANONYMOUS = new Caller() {
        @Override
        public String toString() {
            return "anonymous";
        }
    };
}
