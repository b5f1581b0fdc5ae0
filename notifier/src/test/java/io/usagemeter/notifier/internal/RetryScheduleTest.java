package io.usagemeter.notifier.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryScheduleTest {

    @Test
    void theDefaultEndsWithin24HoursOfTheFirstAttempt() {
        Duration total = RetrySchedule.DEFAULT.waits().stream().reduce(Duration.ZERO, Duration::plus);
        assertThat(total).isLessThanOrEqualTo(Duration.ofHours(24)).isGreaterThan(Duration.ofHours(23));
        assertThat(RetrySchedule.DEFAULT.attempts()).isEqualTo(11);
    }

    @Test
    void waitsAreJitteredDownByAtMostTwentyPercentAndEndAfterTheLast() {
        RetrySchedule schedule = RetrySchedule.parse("METER_WEBHOOK_RETRY_SCHEDULE", "100ms, 2s");
        for (int i = 0; i < 200; i++) {
            assertThat(schedule.waitAfter(1)).hasValueSatisfying(d ->
                    assertThat(d).isBetween(Duration.ofMillis(80), Duration.ofMillis(100)));
            assertThat(schedule.waitAfter(2)).hasValueSatisfying(d ->
                    assertThat(d).isBetween(Duration.ofMillis(1600), Duration.ofMillis(2000)));
        }
        assertThat(schedule.waitAfter(3)).isEmpty();
        assertThat(RetrySchedule.parse("X", "").waitAfter(1)).isEmpty();
    }

    @Test
    void aBadScheduleNamesTheVariable() {
        assertThatThrownBy(() -> RetrySchedule.parse("METER_WEBHOOK_RETRY_SCHEDULE", "5s,soon"))
                .hasMessageContaining("METER_WEBHOOK_RETRY_SCHEDULE");
        assertThatThrownBy(() -> RetrySchedule.parse("METER_WEBHOOK_RETRY_SCHEDULE", "20h,5h"))
                .hasMessageContaining("24 h");
    }
}
