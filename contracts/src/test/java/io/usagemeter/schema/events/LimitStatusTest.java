package io.usagemeter.schema.events;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LimitStatusTest {

    @Test
    void okBelowEightyPercentWarningFromEightyExceededAtTheLimit() {
        assertThat(LimitStatus.of(799, 1000)).isEqualTo(LimitStatus.OK);
        assertThat(LimitStatus.of(800, 1000)).isEqualTo(LimitStatus.WARNING);
        assertThat(LimitStatus.of(999, 1000)).isEqualTo(LimitStatus.WARNING);
        assertThat(LimitStatus.of(1000, 1000)).isEqualTo(LimitStatus.EXCEEDED);
        assertThat(LimitStatus.of(1001, 1000)).isEqualTo(LimitStatus.EXCEEDED);
    }

    @Test
    void eightyPercentIsExactWhereFloatingPointWouldRound() {
        // 4/5 of 7 is 5.6: 5 is below it, 6 is above it.
        assertThat(LimitStatus.of(5, 7)).isEqualTo(LimitStatus.OK);
        assertThat(LimitStatus.of(6, 7)).isEqualTo(LimitStatus.WARNING);
    }

    @Test
    void aZeroLimitIsExceededAndHugeValuesDoNotOverflow() {
        assertThat(LimitStatus.of(0, 0)).isEqualTo(LimitStatus.EXCEEDED);
        assertThat(LimitStatus.of(Long.MAX_VALUE - 1, Long.MAX_VALUE)).isEqualTo(LimitStatus.WARNING);
        assertThat(LimitStatus.of(Long.MAX_VALUE / 5 * 4 - 1, Long.MAX_VALUE)).isEqualTo(LimitStatus.OK);
    }
}
