package io.usagemeter.enforcer.client;

import java.util.UUID;

/**
 * Whether a user's call may go ahead, and on what it was decided.
 *
 * @param answer the enforcer's answer it rests on, {@code null} when the fail policy decided
 */
public record LimitDecision(UUID userId, boolean allowed, Source source, LimitAnswer answer) {

    public enum Source {
        /** Asked the enforcer just now. */
        ENFORCER,
        /** A cached answer younger than the cache TTL. */
        CACHE,
        /** The enforcer did not answer; a cached answer within the staleness bound decided. */
        STALE_CACHE,
        /** No enforcer and no usable cached answer: the fail policy decided. */
        FAIL_POLICY
    }
}
