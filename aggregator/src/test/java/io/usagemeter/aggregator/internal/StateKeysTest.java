package io.usagemeter.aggregator.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.YearMonth;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The key text is what the changelogs hold: it must stay what the earlier formatter wrote. */
class StateKeysTest {

    @Test
    void instants_are_zero_padded_seconds_and_nanoseconds() {
        Random random = new Random(3);
        for (int i = 0; i < 1_000; i++) {
            Instant at = Instant.ofEpochSecond(random.nextLong(0, 999_999_999_999L), random.nextInt(1_000_000_000));
            assertThat(StateKeys.instant(at))
                    .isEqualTo(String.format(Locale.ROOT, "%012d.%09d", at.getEpochSecond(), at.getNano()));
        }
        assertThat(StateKeys.instant(Instant.EPOCH)).isEqualTo("000000000000.000000000");
    }

    @Test
    void months_are_written_as_year_dash_month() {
        UUID user = UUID.fromString("6f1c0c5e-6a4e-4b8e-9a43-3f0d2a1c9b01");
        DateTimeFormatter formatter = DateTimeFormatter.ofPattern("uuuu-MM", Locale.ROOT);
        for (YearMonth m : new YearMonth[] {YearMonth.of(2028, 2), YearMonth.of(1970, 1), YearMonth.of(9999, 12),
            YearMonth.of(10_000, 1), YearMonth.of(999, 10)}) {
            assertThat(StateKeys.monthStart(m)).isEqualTo(m.format(formatter));
            assertThat(StateKeys.userMonth(m, user)).isEqualTo(m.format(formatter) + "|" + user);
        }
    }
}
