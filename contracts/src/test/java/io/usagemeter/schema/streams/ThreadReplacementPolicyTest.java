package io.usagemeter.schema.streams;

import static org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.REPLACE_THREAD;
import static org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class ThreadReplacementPolicyTest {

    /** A clock the test moves by hand. */
    private static final class ManualClock extends Clock {
        private Instant now = Instant.parse("2028-03-01T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    private final ManualClock clock = new ManualClock();
    private final ThreadReplacementPolicy policy = new ThreadReplacementPolicy("test", 2, Duration.ofMinutes(10), clock);
    private final RuntimeException failure = new IllegalStateException("boom");

    @Test
    void replaces_threads_within_the_budget_then_shuts_down() {
        assertThat(policy.handle(failure)).isEqualTo(REPLACE_THREAD);
        clock.advance(Duration.ofMinutes(1));
        assertThat(policy.handle(failure)).isEqualTo(REPLACE_THREAD);
        clock.advance(Duration.ofMinutes(1));
        assertThat(policy.handle(failure)).isEqualTo(SHUTDOWN_CLIENT);
    }

    @Test
    void failures_older_than_the_period_no_longer_count() {
        assertThat(policy.handle(failure)).isEqualTo(REPLACE_THREAD);
        assertThat(policy.handle(failure)).isEqualTo(REPLACE_THREAD);
        clock.advance(Duration.ofMinutes(10));
        assertThat(policy.handle(failure)).isEqualTo(REPLACE_THREAD);
    }
}
