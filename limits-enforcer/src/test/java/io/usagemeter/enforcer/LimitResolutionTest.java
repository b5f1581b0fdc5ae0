package io.usagemeter.enforcer;

import static io.usagemeter.enforcer.EnforcerDriver.FEB;
import static io.usagemeter.enforcer.EnforcerDriver.JAN;
import static io.usagemeter.enforcer.EnforcerDriver.day;
import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.LimitEvent;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code limit.resolved}: usage back below 80 % after a crossing (reset, credits, plan change, new
 * month) is announced once, and arms the thresholds again. Plan {@code free} has 1000 units.
 */
class LimitResolutionTest {

    @TempDir
    Path stateDir;

    private EnforcerDriver driver;
    private final UUID user = UUID.randomUUID();

    @BeforeEach
    void start() {
        driver = new EnforcerDriver(BigDecimal.ZERO, stateDir);
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    /** Each event as {@code threshold/kind used/limit}. */
    private List<String> events() {
        return driver.limitEvents.readValuesToList().stream()
                .map(e -> e.threshold() + "/" + e.kind() + " " + e.used() + "/" + e.effectiveLimit())
                .toList();
    }

    @Test
    void aResetBelowEightyPercentResolvesOnceAndCrossingAgainWarnsAgain() {
        driver.usage(user, 800);
        driver.usage(user, 1000);
        driver.command(new AdminCommand.ResetUsage("reset-1", user, JAN, day(JAN, 15), day(JAN, 15), "admin@example.com"));
        driver.usage(user, JAN, 0, day(JAN, 15));
        driver.usage(user, JAN, 0, day(JAN, 15)); // the same summary again: nothing more to say
        driver.usage(user, JAN, 500, day(JAN, 16));
        driver.usage(user, JAN, 850, day(JAN, 17));

        assertThat(events()).containsExactly(
                "80/CROSSED 800/1000", "100/CROSSED 1000/1000", "80/RESOLVED 0/1000", "80/CROSSED 850/1000");
    }

    @Test
    void creditsThatRaiseTheLimitResolveAndArmBothThresholdsAgain() {
        driver.usage(user, 900);
        driver.addCredits(user, 1000);
        driver.usage(user, 1700);
        driver.usage(user, 2000);

        assertThat(events()).containsExactly(
                "80/CROSSED 900/1000", "80/RESOLVED 900/2000", "80/CROSSED 1700/2000", "100/CROSSED 2000/2000");
    }

    @Test
    void fallingFromExceededToWarningResolvesNothing() {
        driver.usage(user, 1000);
        driver.addCredits(user, 100); // 1000 of 1100: 91 %, still at warning

        assertThat(events()).containsExactly("80/CROSSED 1000/1000", "100/CROSSED 1000/1000");

        driver.addCredits(user, 1000); // 1000 of 2100: 48 %
        driver.usage(user, 1100); // the exceeded mark was cleared with the warning: nothing to announce below 80 %
        assertThat(events()).containsExactly("80/RESOLVED 1000/2100");
    }

    @Test
    void aPlanChangeBelowEightyPercentResolves() {
        driver.usage(user, 950);
        driver.setPlan(user, "pro");

        assertThat(events()).containsExactly("80/CROSSED 950/1000", "80/RESOLVED 950/50000");
    }

    @Test
    void aNewMonthResolvesLastMonthsCrossingInTheNewMonthsTerms() {
        driver.usage(user, JAN, 1200, day(JAN, 20));
        driver.usage(user, FEB, 10, day(FEB, 1));
        driver.usage(user, FEB, 20, day(FEB, 2));

        List<LimitEvent> events = driver.limitEvents.readValuesToList();
        assertThat(events).extracting(e -> e.month() + " " + e.threshold() + "/" + e.kind())
                .containsExactly("2026-01 80/CROSSED", "2026-01 100/CROSSED", "2026-02 80/RESOLVED");
        assertThat(events.get(2).used()).isEqualTo(10);
    }

    @Test
    void aNewMonthThatStartsAboveEightyPercentWarnsForItselfWithoutResolving() {
        driver.usage(user, JAN, 900, day(JAN, 20));
        driver.usage(user, FEB, 850, day(FEB, 1));

        assertThat(driver.limitEvents.readValuesToList()).extracting(e -> e.month() + " " + e.threshold() + "/" + e.kind())
                .containsExactly("2026-01 80/CROSSED", "2026-02 80/CROSSED");
    }

    @Test
    void noCrossingNothingToResolve() {
        driver.usage(user, 500);
        driver.addCredits(user, 1000);
        driver.usage(user, FEB, 10, day(FEB, 1));

        assertThat(events()).isEmpty();
    }
}
