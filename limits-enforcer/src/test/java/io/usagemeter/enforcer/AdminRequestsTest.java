package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.enforcer.http.AdminRequests;
import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.events.ResetHorizon;
import io.usagemeter.schema.events.Violation;
import java.time.Instant;
import java.time.YearMonth;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every admin body is refused naming the field and its bound; the maxima pass. */
class AdminRequestsTest {

    private static List<Violation> refusal(Runnable parse) {
        try {
            parse.run();
        } catch (AdminRequests.Invalid invalid) {
            return invalid.violations();
        }
        throw new AssertionError("accepted");
    }

    @Test
    void creditsUpToTheBoundPassAndOneMoreIsRefusedNamingAmountAndTheBound() {
        assertThat(AdminRequests.AddCredits.parse("{\"amount\":" + Bounds.MAX_CREDITS_PER_COMMAND + "}").amount())
                .isEqualTo(Bounds.MAX_CREDITS_PER_COMMAND);
        assertThat(AdminRequests.AddCredits.parse("{\"amount\":1}").amount()).isEqualTo(1);
        for (String amount : List.of(Long.toString(Bounds.MAX_CREDITS_PER_COMMAND + 1), "9223372036854775807",
                "9223372036854775808", "0", "-1", "1.5", "\"ten\"", "true", "[]")) {
            assertThat(refusal(() -> AdminRequests.AddCredits.parse("{\"amount\":" + amount + "}")))
                    .as(amount).singleElement().satisfies(v -> {
                        assertThat(v.field()).isEqualTo("amount");
                        assertThat(v.message()).contains(Long.toString(Bounds.MAX_CREDITS_PER_COMMAND));
                    });
        }
        assertThat(refusal(() -> AdminRequests.AddCredits.parse("{}"))).extracting(Violation::field).containsExactly("amount");
        assertThat(refusal(() -> AdminRequests.AddCredits.parse("{\"amount\":5,\"bogus\":1}")))
                .extracting(Violation::field).containsExactly("bogus");
    }

    @Test
    void theMessageOfTheRefusalNamesTheField() {
        assertThatThrownBy(() -> AdminRequests.AddCredits.parse("{\"amount\":9223372036854775807}"))
                .isInstanceOf(AdminRequests.Invalid.class)
                .hasMessageContaining("amount").hasMessageContaining("1000000000");
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"\"", "\"Pro\"", "\"p\\u0000\"", "\"abcdefghijklmnopqrstuvwxyzabcdefg\"", "7", "null"})
    void plansAreNamesSubscriptionLimitsCanHold(String plan) {
        assertThat(refusal(() -> AdminRequests.SetPlan.parse("{\"plan\":" + plan + "}")))
                .extracting(Violation::field).containsExactly("plan");
    }

    @Test
    void aPlanOf32CharactersPasses() {
        String plan = "a" + "b".repeat(31);
        assertThat(AdminRequests.SetPlan.parse("{\"plan\":\"" + plan + "\"}").plan()).isEqualTo(plan);
    }

    @Test
    void commandIdsHaveTheColumnsLengthAndNoControlCharacters() {
        String max = "c".repeat(Bounds.COMMAND_ID_MAX_LENGTH);
        assertThat(AdminRequests.AddCredits.parse("{\"amount\":1,\"command_id\":\"" + max + "\"}").commandId()).isEqualTo(max);
        for (String id : List.of(max + "c", "", "a\\u0000b", "tab\\t")) {
            assertThat(refusal(() -> AdminRequests.AddCredits.parse("{\"amount\":1,\"command_id\":\"" + id + "\"}")))
                    .as(id).extracting(Violation::field).containsExactly("command_id");
        }
    }

    @Test
    void resetBodiesAreOptionalButTyped() {
        assertThat(AdminRequests.ResetUsage.parse("").month()).isNull();
        assertThat(AdminRequests.ResetUsage.parse("{\"month\":\"2026-01\",\"dry_run\":true}").month())
                .isEqualTo(YearMonth.of(2026, 1));
        assertThat(refusal(() -> AdminRequests.ResetUsage.parse("{\"month\":\"January\",\"dry_run\":\"yes\"}")))
                .extracting(Violation::field).containsExactly("month", "dry_run");
        assertThat(refusal(() -> AdminRequests.ResetUsage.parse("[1]"))).extracting(Violation::field)
                .containsExactly(Violation.DOCUMENT);
        assertThat(refusal(() -> AdminRequests.ResetUsage.parse("{"))).extracting(Violation::field)
                .containsExactly(Violation.DOCUMENT);
    }

    @Test
    void aResetOutsideTheHorizonIsRefusedNamingItAndPointingToReplay() {
        Instant now = Instant.parse("2026-03-15T00:00:00Z");
        AdminRequests.ResetUsage.requireWithinHorizon(YearMonth.of(2026, 1), now, new ResetHorizon(3));
        assertThat(refusal(() -> AdminRequests.ResetUsage.requireWithinHorizon(YearMonth.of(2025, 12), now,
                new ResetHorizon(3)))).singleElement().satisfies(v -> {
                    assertThat(v.field()).isEqualTo("month");
                    assertThat(v.message()).contains("reset horizon of 3 months").contains("meter admin replay");
                });
        assertThat(refusal(() -> AdminRequests.ResetUsage.requireWithinHorizon(YearMonth.of(2026, 4), now,
                new ResetHorizon(3)))).extracting(Violation::field).containsExactly("month");
    }

    @Test
    void theVerbsCheckABuiltRequestWithTheSameRules() {
        assertThat(new AdminRequests.AddCredits(Long.MAX_VALUE, null).violations()).extracting(Violation::field)
                .containsExactly("amount");
        assertThat(new AdminRequests.SetPlan("Team!", "x".repeat(201)).violations()).extracting(Violation::field)
                .containsExactly("plan", "command_id");
        assertThat(new AdminRequests.ResetUsage(null, null, "ok").violations()).isEmpty();
    }
}
