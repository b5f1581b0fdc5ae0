package io.usagemeter.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A run that starts at any time of any day stays in one month for {@link TestMonth#MARGIN}. */
class TestMonthTest {

    @ParameterizedTest
    @ValueSource(strings = {"2026-11-30T23:59:59.900Z", "2026-12-31T23:59:59.999Z", "2028-02-29T23:30:00Z",
            "2026-12-01T00:00:00Z", "2026-12-01T00:29:59Z", "2026-12-01T00:59:59Z", "2026-12-15T12:00:00Z",
            "2026-12-31T22:00:01Z"})
    void the_month_and_the_clock_agree_for_the_whole_margin(String realNow) {
        Instant real = Instant.parse(realNow);
        TestMonth time = TestMonth.around(Clock.fixed(real, ZoneOffset.UTC));

        for (Duration later : List.of(Duration.ZERO, Duration.ofMinutes(59), TestMonth.MARGIN.minusMillis(1))) {
            Instant then = Clock.offset(time.clock(), later).instant();
            assertThat(YearMonth.from(then.atOffset(ZoneOffset.UTC))).as("%s after %s", later, realNow)
                    .isEqualTo(time.month());
        }
        assertThat(time.now()).as("never ahead of the real time").isBeforeOrEqualTo(real);
        assertThat(time.now()).as("an hour into the month at least").isAfterOrEqualTo(time.monthStart().plus(Duration.ofHours(1)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"2026-12-15T12:00:00Z", "2026-12-01T01:00:00Z", "2026-12-31T21:59:59Z"})
    void away_from_the_edges_it_is_the_real_time(String realNow) {
        Instant real = Instant.parse(realNow);
        TestMonth time = TestMonth.around(Clock.fixed(real, ZoneOffset.UTC));

        assertThat(time.now()).isEqualTo(real);
        assertThat(time.month()).isEqualTo(YearMonth.of(2026, 12));
    }

    @org.junit.jupiter.api.Test
    void the_last_tenth_of_a_second_of_november_is_tested_in_november_two_hours_earlier() {
        TestMonth time = TestMonth.around(Clock.fixed(Instant.parse("2026-11-30T23:59:59.900Z"), ZoneOffset.UTC));

        assertThat(time.month()).isEqualTo(YearMonth.of(2026, 11));
        assertThat(time.now()).isEqualTo(Instant.parse("2026-11-30T22:00:00Z"));
    }
}
