package io.usagemeter.enforcer.client;

/**
 * Where a {@link LimitClient} records its requests and decisions: nowhere by default, or the app's
 * Micrometer registry ({@link LimitClient.Builder#meterRegistry}). Micrometer's classes are only
 * reached through {@link MicrometerLimitMetrics}, so an app without Micrometer runs the client.
 */
interface LimitMetrics {

    LimitMetrics NONE = new LimitMetrics() {
        @Override
        public void request(long nanos, String outcome) {
        }

        @Override
        public void decision(LimitDecision decision) {
        }
    };

    /** One request to the enforcer: its duration and its outcome (a status code, unreachable, error, interrupted). */
    void request(long nanos, String outcome);

    void decision(LimitDecision decision);
}
