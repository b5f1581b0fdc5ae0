package io.usagemeter.cli.dev;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The HTTP services of the dev stack share at most a quarter of the open-files limit, each at most the kit's default (512). */
class ConnectionBudgetTest {

    @Test
    void aQuarterOfTheLimitIsSharedByTheServicesEachAtMostTheKitsDefault() {
        assertThat(ConnectionBudget.of(OptionalLong.of(1_024), 3, Map.of()).perService()).isEqualTo(85);
        assertThat(ConnectionBudget.of(OptionalLong.of(4_096), 3, Map.of()).perService()).isEqualTo(341);
        assertThat(ConnectionBudget.of(OptionalLong.of(20_000), 3, Map.of()).perService()).isEqualTo(512);
        assertThat(ConnectionBudget.of(OptionalLong.of(1L << 20), 3, Map.of()).perService()).isEqualTo(512);
        assertThat(ConnectionBudget.of(OptionalLong.of(100), 3, Map.of()).perService()).as("never below 16").isEqualTo(16);
        assertThat(ConnectionBudget.of(OptionalLong.empty(), 3, Map.of()).perService()).isEqualTo(512);
    }

    @Test
    void theCapIsPassedToTheServicesAndSaidInTheStartLine() {
        ConnectionBudget budget = ConnectionBudget.of(OptionalLong.of(20_000), 3, Map.of());

        assertThat(budget.applyTo(Map.of("METER_KAFKA_BOOTSTRAP", "localhost:7400")))
                .containsEntry("METER_HTTP_MAX_CONNECTIONS", "512").containsEntry("METER_KAFKA_BOOTSTRAP", "localhost:7400");
        assertThat(budget.describe()).isEqualTo("open files limit 20,000; HTTP connections capped at 512 per service");
        assertThat(budget.warning()).isEmpty();
    }

    @Test
    void aLowLimitAsksToRaiseIt() {
        assertThat(ConnectionBudget.of(OptionalLong.of(1_024), 3, Map.of()).warning()).hasValueSatisfying(w ->
                assertThat(w).contains("may open only 1,024 files").contains("ulimit -n"));
    }

    @Test
    void theUsersOwnCapIsPassedOnAndWarnedAboutWhenItCouldStarveTheBroker() {
        ConnectionBudget modest = ConnectionBudget.of(OptionalLong.of(20_000), 3, Map.of("METER_HTTP_MAX_CONNECTIONS", "200"));
        assertThat(modest.applyTo(Map.of())).containsEntry("METER_HTTP_MAX_CONNECTIONS", "200");
        assertThat(modest.describe()).endsWith("capped at 200 per service (METER_HTTP_MAX_CONNECTIONS)");
        assertThat(modest.warning()).isEmpty();

        ConnectionBudget greedy = ConnectionBudget.of(OptionalLong.of(20_000), 3, Map.of("METER_HTTP_MAX_CONNECTIONS", "5000"));
        assertThat(greedy.applyTo(Map.of())).containsEntry("METER_HTTP_MAX_CONNECTIONS", "5000");
        assertThat(greedy.warning()).hasValueSatisfying(w -> assertThat(w).contains("15,000 of the 20,000"));

        assertThatThrownBy(() -> ConnectionBudget.of(OptionalLong.of(20_000), 3, Map.of("METER_HTTP_MAX_CONNECTIONS", "lots")))
                .hasMessageContaining("METER_HTTP_MAX_CONNECTIONS");
    }
}
