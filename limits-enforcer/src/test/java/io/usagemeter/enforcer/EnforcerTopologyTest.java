package io.usagemeter.enforcer;

import static io.usagemeter.enforcer.EnforcerDriver.FEB;
import static io.usagemeter.enforcer.EnforcerDriver.JAN;
import static io.usagemeter.enforcer.EnforcerDriver.day;
import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.enforcer.internal.ReferralRefusal;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.LimitEvent;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.events.ReferralStatus;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class EnforcerTopologyTest {

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

    @ParameterizedTest(name = "{0} referrals: multiplier {1}, bonus {2}, limit {3}")
    @CsvSource({
            "0,   0.0,  0,    1000",
            "1,   0.02, 10,   1030",
            "99,  1.98, 990,  3970",
            "100, 2.0,  1000, 4000",
            "150, 2.0,  1500, 4500"})
    void effectiveLimitGrowsWithReferralsUpToTheCap(int referrals, double multiplier, long bonus, long limit) {
        driver.usage(user, 0);
        driver.completedReferrals(user, referrals);

        LimitState state = driver.limit(user);
        assertThat(state.referralCount()).isEqualTo(referrals);
        assertThat(state.multiplier()).isEqualTo(multiplier);
        assertThat(state.bonusCredits()).isEqualTo(bonus);
        assertThat(state.effectiveLimit()).isEqualTo(limit);
        assertThat(state.plan()).isEqualTo("free");
        assertThat(state.planUnits()).isEqualTo(1000);
    }

    @Test
    void limitIsExactWhereDoubleArithmeticWouldRoundDown() {
        // 100 * (1 + 7 * 0.02) is 113.99999999999999 in doubles; the limit is 114 (+ 70 bonus credits).
        driver.setPlan(user, "tiny");
        driver.completedReferrals(user, 7);

        assertThat(driver.limit(user).effectiveLimit()).isEqualTo(184);
    }

    @Test
    void adminBonusCreditsAddToReferralCreditsAndApplyOncePerCommandId() {
        driver.completedReferrals(user, 2);
        driver.command(new AdminCommand.AddBonusCredits("grant-1", user, 500, day(JAN, 11), "admin@example.com"));
        driver.command(new AdminCommand.AddBonusCredits("grant-1", user, 500, day(JAN, 11), "admin@example.com"));

        LimitState state = driver.limit(user);
        assertThat(state.bonusCredits()).isEqualTo(520);
        assertThat(state.effectiveLimit()).isEqualTo(1040 + 520);
    }

    @Test
    void bonusCreditsCarryIntoTheNextMonth() {
        driver.addCredits(user, 250);
        driver.usage(user, FEB, 5, day(FEB, 2));

        LimitState state = driver.limit(user);
        assertThat(state.month()).isEqualTo(FEB);
        assertThat(state.effectiveLimit()).isEqualTo(1250);
    }

    @ParameterizedTest(name = "used {0} of 1000 → {1}")
    @CsvSource({"0, OK", "799, OK", "800, WARNING", "999, WARNING", "1000, EXCEEDED", "1500, EXCEEDED"})
    void stateBoundaries(long used, LimitStatus expected) {
        driver.usage(user, used);

        LimitState state = driver.limit(user);
        assertThat(state.state()).isEqualTo(expected);
        assertThat(state.used()).isEqualTo(used);
        assertThat(state.remaining()).isEqualTo(Math.max(1000 - used, 0));
        assertThat(state.allowed()).isEqualTo(used < 1000);
        assertThat(state.resetsAt()).isEqualTo(day(FEB, 1));
    }

    @Test
    void warningStartsAtEightyPercentExactlyNotJustAbove() {
        driver.addCredits(user, 1000 * 4 - 1000 + 1); // limit 4001: 80 % is 3200.8
        driver.usage(user, 3200);
        assertThat(driver.limit(user).state()).isEqualTo(LimitStatus.OK);
        driver.usage(user, 3201);
        assertThat(driver.limit(user).state()).isEqualTo(LimitStatus.WARNING);
    }

    @Test
    void graceLetsUsageRunOverBeforeCallsAreRefused() {
        driver.close();
        driver = new EnforcerDriver(new BigDecimal("0.10"), stateDir.resolve("grace"));

        driver.usage(user, 1099);
        LimitState over = driver.limit(user);
        assertThat(over.state()).isEqualTo(LimitStatus.EXCEEDED);
        assertThat(over.allowed()).isTrue();
        assertThat(over.grace()).isEqualTo(0.10);

        driver.usage(user, 1100);
        assertThat(driver.limit(user).allowed()).isFalse();
    }

    @Test
    void eachThresholdIsAnnouncedOncePerMonthEvenWhenSummariesRepeat() {
        for (long used : new long[] {500, 800, 850, 800, 1000, 1200, 1000}) {
            driver.usage(user, used);
        }
        driver.usage(user, 1200); // the same summary again, as after a replay upstream

        List<LimitEvent> events = driver.limitEvents.readValuesToList();
        assertThat(events).extracting(LimitEvent::threshold).containsExactly(80, 100);
        assertThat(events).allSatisfy(e -> {
            assertThat(e.userId()).isEqualTo(user);
            assertThat(e.month()).isEqualTo(JAN);
        });
        assertThat(events.get(0).used()).isEqualTo(800);
        assertThat(events.get(1).used()).isEqualTo(1000);
    }

    @Test
    void aJumpPastBothThresholdsAnnouncesBoth() {
        driver.usage(user, 2000);

        assertThat(driver.limitEvents.readKeyValuesToList()).extracting(kv -> kv.key + ":" + kv.value.threshold())
                .containsExactly(user + ":80", user + ":100");
    }

    @Test
    void aRaisedLimitDoesNotAnnounceTheSameThresholdAgain() {
        driver.usage(user, 900);
        driver.addCredits(user, 1000);
        assertThat(driver.limit(user).state()).isEqualTo(LimitStatus.OK);
        driver.usage(user, 1700);

        assertThat(driver.limitEvents.readValuesToList()).extracting(LimitEvent::threshold).containsExactly(80);
    }

    @Test
    void resetUsesTheAggregatorsSummaryAsIs() {
        driver.usage(user, 900);
        driver.command(new AdminCommand.ResetUsage("reset-1", user, JAN, day(JAN, 15), day(JAN, 15), "admin@example.com"));
        // The aggregator answers the reset with the month recounted from events after it.
        driver.usage(user, JAN, 0, day(JAN, 15));

        LimitState state = driver.limit(user);
        assertThat(state.used()).isZero();
        assertThat(state.state()).isEqualTo(LimitStatus.OK);
        assertThat(state.allowed()).isTrue();
        assertThat(driver.limitEvents.readValuesToList()).extracting(LimitEvent::threshold).containsExactly(80);
    }

    @Test
    void planChangeMidMonthKeepsTheUsage() {
        driver.usage(user, 900);
        assertThat(driver.limit(user).state()).isEqualTo(LimitStatus.WARNING);

        driver.setPlan(user, "pro");

        LimitState state = driver.limit(user);
        assertThat(state.plan()).isEqualTo("pro");
        assertThat(state.planUnits()).isEqualTo(50_000);
        assertThat(state.effectiveLimit()).isEqualTo(50_000);
        assertThat(state.used()).isEqualTo(900);
        assertThat(state.state()).isEqualTo(LimitStatus.OK);
    }

    @Test
    void unknownPlanIsRefusedAndTheUserKeepsTheirPlan() {
        driver.usage(user, 10);
        driver.setPlan(user, "platinum");

        assertThat(driver.limit(user).plan()).isEqualTo("free");
    }

    @Test
    void monthRolloverStartsFreshUsageAndFreshThresholds() {
        driver.usage(user, JAN, 950, day(JAN, 20));
        driver.usage(user, FEB, 10, day(FEB, 1));

        LimitState feb = driver.limit(user);
        assertThat(feb.month()).isEqualTo(FEB);
        assertThat(feb.used()).isEqualTo(10);
        assertThat(feb.state()).isEqualTo(LimitStatus.OK);
        assertThat(feb.resetsAt()).isEqualTo(day(YearMonthOf(2026, 3), 1));

        // A late January summary is kept for usage queries but does not touch February's limit.
        driver.usage(user, JAN, 990, day(FEB, 2));
        assertThat(driver.limit(user).used()).isEqualTo(10);
        assertThat(driver.storedUsage(user, JAN).units()).isEqualTo(990);

        driver.usage(user, FEB, 800, day(FEB, 3));
        assertThat(driver.limitEvents.readValuesToList()).extracting(e -> e.month() + "/" + e.threshold())
                .containsExactly("2026-01/80", "2026-02/80");
    }

    @Test
    void theUsageStoreIsTheSummariesTopicsTableWithoutAChangelogOfItsOwn() {
        driver.usage(user, JAN, 10, day(JAN, 20));
        driver.usage(user, FEB, 10, day(FEB, 1));
        driver.usage(user, YearMonthOf(2026, 3), 10, day(YearMonthOf(2026, 3), 1));

        assertThat(driver.storedUsage(user, JAN).units()).as("as the compacted topic holds it").isEqualTo(10);
        assertThat(driver.limit(user).month()).isEqualTo(YearMonthOf(2026, 3));
        assertThat(driver.driver.producedTopicNames()).as("restored from the summaries topic itself")
                .noneMatch(topic -> topic.contains(EnforcerTopology.USAGE_STORE));
    }

    @Test
    void selfAndDoubleReferralsAreRefusedWithTheirReason() {
        UUID other = UUID.randomUUID();
        UUID referred = UUID.randomUUID();

        driver.referral("self", user, user, ReferralStatus.COMPLETED);
        driver.referral("first", user, referred, ReferralStatus.COMPLETED);
        driver.referral("again", user, referred, ReferralStatus.COMPLETED);
        driver.referral("stolen", other, referred, ReferralStatus.COMPLETED);

        assertThat(driver.refusal("self").reason()).isEqualTo(ReferralRefusal.SELF_REFERRAL);
        assertThat(driver.refusal("again").reason()).isEqualTo(ReferralRefusal.ALREADY_COMPLETED);
        assertThat(driver.refusal("stolen").reason()).isEqualTo(ReferralRefusal.ALREADY_REFERRED);
        assertThat(driver.refusal("first")).isNull();
        assertThat(driver.limit(user).referralCount()).isEqualTo(1);
        assertThat(driver.limit(user).bonusCredits()).isEqualTo(10);
        assertThat(driver.limit(other)).isNull();
    }

    @Test
    void aPendingReferralCreditsNothingUntilItCompletes() {
        UUID referred = UUID.randomUUID();
        driver.referral("r1", user, referred, ReferralStatus.PENDING);
        assertThat(driver.limit(user)).isNull();

        driver.referral("r1", user, referred, ReferralStatus.COMPLETED);
        assertThat(driver.limit(user).referralCount()).isEqualTo(1);
    }

    private static java.time.YearMonth YearMonthOf(int year, int month) {
        return java.time.YearMonth.of(year, month);
    }
}
