package io.usagemeter.schema.events;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Every bound of the usage event: the maximum passes, one more is refused naming the field and the bound. */
class BoundsTest {

    static List<Violation> violations(ObjectNode node) {
        UsageEventValidation.Result result = UsageEventValidation.parse(node);
        return result instanceof UsageEventValidation.Invalid invalid ? invalid.violations() : List.of();
    }

    @ParameterizedTest
    @CsvSource({
            "units, 1, 1000000",
            "tokens, 0, 100000000",
            "request_bytes, 0, 4294967296",
            "response_bytes, 0, 4294967296",
            "response_time_ms, 0, 86400000",
            "status_code, 100, 599"})
    void eachNumberHasItsBoundsAndTheRefusalNamesThem(String field, long min, long max) {
        assertThat(violations(UsageEventValidationTest.valid().put(field, max))).isEmpty();
        assertThat(violations(UsageEventValidationTest.valid().put(field, min))).isEmpty();
        for (long outside : new long[] {max + 1, min - 1, Long.MAX_VALUE, Long.MIN_VALUE}) {
            List<Violation> refused = violations(UsageEventValidationTest.valid().put(field, outside));
            assertThat(refused).as("%s = %d", field, outside).singleElement().satisfies(v -> {
                assertThat(v.field()).isEqualTo(field);
                assertThat(v.message()).contains(Long.toString(min)).contains(Long.toString(max));
            });
        }
        // Beyond even a long: still the field and its range, not a parse error.
        List<Violation> huge = violations(UsageEventValidationTest.valid()
                .put(field, new BigInteger("99999999999999999999999")));
        assertThat(huge).singleElement().satisfies(v -> {
            assertThat(v.field()).isEqualTo(field);
            assertThat(v.message()).contains(Long.toString(max));
        });
    }

    @ParameterizedTest
    @CsvSource({"event_id, 128", "endpoint, 512", "method, 32"})
    void eachStringHasItsColumnsLength(String field, int max) {
        String atMax = "X".repeat(max);
        assertThat(violations(UsageEventValidationTest.valid().put(field, atMax))).isEmpty();
        List<Violation> tooLong = violations(UsageEventValidationTest.valid().put(field, atMax + "X"));
        assertThat(tooLong).singleElement().satisfies(v -> {
            assertThat(v.field()).isEqualTo(field);
            assertThat(v.message()).contains(Integer.toString(max)).contains(Integer.toString(max + 1));
        });
        assertThat(violations(UsageEventValidationTest.valid().put(field, "")))
                .extracting(Violation::field).containsExactly(field);
    }

    @ParameterizedTest
    @ValueSource(strings = {"a\u0000b", "\u0000", "a\nb", "tab\there", "del\u007f", "c1\u0085", "\uD800alone", "end\uDC00"})
    void textWithControlCharactersOrBrokenUnicodeIsRefusedInEveryStringField(String text) {
        for (String field : List.of("event_id", "endpoint")) {
            List<Violation> refused = violations(UsageEventValidationTest.valid().put(field, text));
            assertThat(refused).as("%s = %s", field, text).extracting(Violation::field).containsExactly(field);
        }
        assertThat(violations(UsageEventValidationTest.valid().put("method", text)))
                .extracting(Violation::field).containsExactly("method");
    }

    @Test
    void nonAsciiTextIsFine() {
        assertThat(violations(UsageEventValidationTest.valid().put("endpoint", "/v1/вызов/😀/ü"))).isEmpty();
        assertThat(violations(UsageEventValidationTest.valid().put("event_id", "事件-😀"))).isEmpty();
        assertThat(Bounds.textProblem("\uD83D\uDE00")).isNull();
    }

    @Test
    void aTypedEventIsCheckedByTheSameRulesAndAStreamStageThrowsWithThem() {
        UsageEvent poison = new UsageEvent("evt\u0000", UUID.randomUUID(), Instant.parse("2025-03-10T11:00:00Z"),
                Provider.OTHER, "/x", "M".repeat(33), 200, 0, 0, 0, 0, Long.MAX_VALUE);
        assertThat(UsageEventValidation.checkRanges(poison)).extracting(Violation::field)
                .containsExactly("event_id", "method", "units");
        assertThatThrownBy(() -> UsageEventValidation.requireWithinBounds(poison))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("units").hasMessageContaining("1000000");
    }

    /** The reasoning of the class comment of Bounds, as arithmetic: a year of maximal events fits a long. */
    @Test
    void aYearOfTheMostEventsAtEveryMaximumFitsALong() {
        BigInteger eventsPerYear = BigInteger.valueOf(Bounds.SUMMED_MONTHS)
                .multiply(BigInteger.valueOf(Bounds.MAX_EVENTS_PER_USER_MONTH));
        BigInteger longMax = BigInteger.valueOf(Long.MAX_VALUE);
        for (Map.Entry<String, Long> max : Map.of("units", Bounds.MAX_UNITS, "tokens", Bounds.MAX_TOKENS,
                "bytes", Bounds.MAX_BYTES, "response_time_ms", Bounds.MAX_RESPONSE_TIME_MS, "calls", 1L).entrySet()) {
            assertThat(eventsPerYear.multiply(BigInteger.valueOf(max.getValue())))
                    .as(max.getKey()).isLessThan(longMax);
        }
        // The effective limit: plan units * 3 (the +200 % multiplier) + every bonus credit.
        assertThat(BigInteger.valueOf(Bounds.MAX_PLAN_UNITS).multiply(BigInteger.valueOf(3))
                .add(BigInteger.valueOf(Bounds.MAX_BONUS_CREDITS))).isLessThan(longMax);
    }

    @Test
    void saturatingArithmeticStopsAtTheEnds() {
        assertThat(Saturating.add(Long.MAX_VALUE, 1)).isEqualTo(Long.MAX_VALUE);
        assertThat(Saturating.add(Long.MAX_VALUE - 2, 1)).isEqualTo(Long.MAX_VALUE - 1);
        assertThat(Saturating.add(Long.MIN_VALUE, -1)).isEqualTo(Long.MIN_VALUE);
        assertThat(Saturating.add(-5, 3)).isEqualTo(-2);
        assertThat(Saturating.subtract(Long.MIN_VALUE, 1)).isEqualTo(Long.MIN_VALUE);
        assertThat(Saturating.subtract(10, Long.MIN_VALUE)).isEqualTo(Long.MAX_VALUE);
        assertThat(Saturating.subtract(10, 25)).isEqualTo(-15);
        assertThat(Saturating.multiply(Long.MAX_VALUE / 2, 3)).isEqualTo(Long.MAX_VALUE);
        assertThat(Saturating.multiply(Long.MAX_VALUE / 2, -3)).isEqualTo(Long.MIN_VALUE);
        assertThat(Saturating.multiply(-4, -5)).isEqualTo(20);
        assertThat(Saturating.multiply(1L << 40, 1L << 22)).isEqualTo(1L << 62);
        assertThat(Saturating.addAtMost(7, 5, 10)).isEqualTo(10);
    }

    /** Issue 13, case 1: one event of Long.MAX_VALUE units then one more made usage negative. */
    @Test
    void aSummaryNeverWrapsPastTheLargestLong() {
        UUID user = UUID.randomUUID();
        Instant at = Instant.parse("2025-03-10T11:00:00Z");
        MonthlySummary summary = MonthlySummary.empty(new MonthlySummaryKey(user, YearMonth.of(2025, 3)));
        summary = summary.plus(new UsageEvent("a", user, at, Provider.OPENAI, "/x", "GET", 200,
                Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE));
        summary = summary.plus(new UsageEvent("b", user, at, Provider.OPENAI, "/x", "GET", 500, 1, 1, 1, 1, 1));
        assertThat(summary.units()).isEqualTo(Long.MAX_VALUE);
        assertThat(summary.tokens()).isEqualTo(Long.MAX_VALUE);
        assertThat(summary.requestBytes()).isEqualTo(Long.MAX_VALUE);
        assertThat(summary.responseTimeMsSum()).isEqualTo(Long.MAX_VALUE);
        assertThat(summary.calls()).isEqualTo(2);
        assertThat(summary.inconsistency()).isNull();
    }

    @Test
    void aSummaryWithANegativeTotalIsInconsistent() {
        UUID user = UUID.randomUUID();
        MonthlySummary negative = new MonthlySummary(user, YearMonth.of(2025, 3), 1, -5, 1, 0, 0, 0, 0, 0, 0,
                null, null, Map.of());
        assertThat(negative.inconsistency()).contains("negative");
        MonthlySummary miscounted = new MonthlySummary(user, YearMonth.of(2025, 3), 3, 5, 1, 0, 0, 0, 0, 0, 0,
                null, null, Map.of());
        assertThat(miscounted.inconsistency()).contains("calls");
    }

    @Test
    void theResetHorizonCoversTheResetInstantsMonthAndTheOnesBeforeIt() {
        ResetHorizon horizon = new ResetHorizon(3);
        Instant at = Instant.parse("2025-03-10T12:00:00Z");
        assertThat(horizon.refusal(YearMonth.of(2025, 3), at)).isEmpty();
        assertThat(horizon.refusal(YearMonth.of(2025, 1), at)).isEmpty();
        assertThat(horizon.refusal(YearMonth.of(2024, 12), at)).get().asString()
                .contains("reset horizon of 3 months").contains("2025-01 to 2025-03")
                .contains("meter admin replay --month 2024-12");
        assertThat(horizon.refusal(YearMonth.of(2025, 4), at)).get().asString().contains("not started");
        assertThat(ResetHorizon.fromEnv(Map.of())).isEqualTo(ResetHorizon.DEFAULT);
        assertThat(ResetHorizon.fromEnv(Map.of(ResetHorizon.MONTHS_VAR, "6")).months()).isEqualTo(6);
    }
}
