package io.usagemeter.aggregator.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.YearMonth;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The key text is what the changelogs hold: it must stay what the earlier formatter wrote. */
class StateKeysTest {

    @Test
    void chunk_keys_sort_by_segment_then_sequence_and_read_back() {
        Random random = new Random(3);
        for (int i = 0; i < 1_000; i++) {
            long segment = random.nextLong(0, Long.MAX_VALUE / 2);
            int sequence = random.nextInt(Integer.MAX_VALUE - 1);
            String key = StateKeys.chunk(segment, sequence);
            assertThat(StateKeys.segmentOfChunk(key)).isEqualTo(segment);
            assertThat(StateKeys.sequenceOfChunk(key)).isEqualTo(sequence);
            assertThat(key).isBetween(StateKeys.chunksStart(), StateKeys.chunksEnd());
            assertThat(StateKeys.chunk(segment, sequence + 1)).isGreaterThan(key);
            assertThat(StateKeys.chunk(segment + 1, 0)).isGreaterThan(key);
        }
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
