package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.schema.FlywayMigrations;
import io.usagemeter.schema.events.LimitStatus;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Differential property: the limit rules in Java ({@link LimitRules#effectiveLimit}, {@link LimitRules#multiplierPercent},
 * {@link LimitStatus#of}) and in PostgreSQL ({@code effective_limit}, {@code referral_multiplier}, {@code usage_state} of
 * the migrations) give the same integers and the same state for random plan units, referral counts from 0 to 200,
 * bonus credits and usage around the 80 % and 100 % thresholds.
 *
 * <p>Each seed is fixed, so a run is reproducible; a failure names its seed and shrinks the first case that differs to
 * a smallest one that still differs.
 */
class LimitRulesAgainstSqlIT {

    private static final int SEEDS = 20;
    private static final int CASES_PER_SEED = 1_000;
    private static final String QUERY = """
            SELECT effective_limit(t.plan_units, t.referrals, t.credits),
                   (referral_multiplier(t.referrals) * 100)::int,
                   usage_state(t.used, effective_limit(t.plan_units, t.referrals, t.credits))
              FROM unnest(?::bigint[], ?::int[], ?::bigint[], ?::bigint[]) WITH ORDINALITY
                   AS t(plan_units, referrals, credits, used, n)
             ORDER BY t.n""";

    private static io.usagemeter.embedded.TestStack servers;
    private static DataSource database;

    /** One input of both implementations. */
    record Case(long planUnits, int referrals, long credits, long used) {
    }

    /** What one implementation answers for a case. */
    record Answer(long effectiveLimit, int multiplierPercent, String state) {
    }

    @BeforeAll
    static void migrate() {
        servers = io.usagemeter.embedded.TestStack.withSharedBroker();
        database = servers.dataSource("meter");
        FlywayMigrations.flyway(database).migrate();
    }

    @AfterAll
    static void stop() {
        if (servers != null) {
            servers.close();
        }
    }

    @TestFactory
    Stream<DynamicTest> javaAndSqlGiveTheSameLimitsAndStates() {
        return LongStream.range(0, SEEDS).mapToObj(seed -> DynamicTest.dynamicTest("seed " + seed, () -> {
            List<Case> cases = randomCases(new Random(seed));
            List<Answer> sql = sql(cases);
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                if (!java(c).equals(sql.get(i))) {
                    Case smallest = shrink(c);
                    throw new AssertionError(String.format(Locale.ROOT,
                            "seed %d, case %d: %s%n  java %s%n  sql  %s%nshrunk to %s%n  java %s%n  sql  %s",
                            seed, i, c, java(c), sql.get(i), smallest, java(smallest), sql(List.of(smallest)).get(0)));
                }
            }
        }));
    }

    /** The edges of every range appear in every seed; the rest is drawn at random over several magnitudes. */
    private static List<Case> randomCases(Random random) {
        long[] plans = {0, 1, 99, 100, 101, 1_000, 50_000, 250_000};
        int[] referralEdges = {0, 1, 49, 50, 99, 100, 101, 199, 200};
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < CASES_PER_SEED; i++) {
            long planUnits = switch (random.nextInt(4)) {
                case 0 -> plans[random.nextInt(plans.length)];
                case 1 -> random.nextInt(1_000);
                case 2 -> random.nextInt(10_000_000);
                default -> (long) (random.nextDouble() * 1e15);
            };
            int referrals = random.nextInt(3) == 0 ? referralEdges[random.nextInt(referralEdges.length)] : random.nextInt(201);
            long credits = switch (random.nextInt(4)) {
                case 0 -> 0;
                case 1 -> 10L * random.nextInt(21);
                case 2 -> random.nextInt(1_000_000);
                default -> (long) (random.nextDouble() * 1e12);
            };
            long limit = LimitRules.effectiveLimit(planUnits, referrals, credits);
            // Usage anywhere up to twice the limit, or on either side of 80 % or 100 % of it.
            long used = switch (random.nextInt(3)) {
                case 0 -> (long) (random.nextDouble() * (2.0 * limit + 2));
                case 1 -> Math.max(0, limit * 4 / 5 + random.nextInt(5) - 2);
                default -> Math.max(0, limit + random.nextInt(5) - 2);
            };
            cases.add(new Case(planUnits, referrals, credits, used));
        }
        return cases;
    }

    private static Answer java(Case c) {
        long limit = LimitRules.effectiveLimit(c.planUnits(), c.referrals(), c.credits());
        return new Answer(limit, LimitRules.multiplierPercent(c.referrals()),
                LimitStatus.of(c.used(), limit).name().toLowerCase(Locale.ROOT));
    }

    private static List<Answer> sql(List<Case> cases) throws SQLException {
        try (Connection c = database.getConnection(); PreparedStatement st = c.prepareStatement(QUERY)) {
            st.setArray(1, array(c, "bigint", cases.stream().map(Case::planUnits).toArray()));
            st.setArray(2, array(c, "integer", cases.stream().map(Case::referrals).toArray()));
            st.setArray(3, array(c, "bigint", cases.stream().map(Case::credits).toArray()));
            st.setArray(4, array(c, "bigint", cases.stream().map(Case::used).toArray()));
            List<Answer> answers = new ArrayList<>();
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    answers.add(new Answer(rs.getLong(1), rs.getInt(2), rs.getString(3)));
                }
            }
            assertThat(answers).hasSameSizeAs(cases);
            return answers;
        }
    }

    private static Array array(Connection c, String type, Object[] values) throws SQLException {
        return c.createArrayOf(type, values);
    }

    private static boolean differs(Case c) throws SQLException {
        return !java(c).equals(sql(List.of(c)).get(0));
    }

    /** Moves each field toward 0 (halving, then one less) while the case still differs. */
    private static Case shrink(Case failing) throws SQLException {
        List<UnaryOperator<Case>> steps = List.of(
                c -> new Case(c.planUnits() / 2, c.referrals(), c.credits(), c.used()),
                c -> new Case(c.planUnits() - 1, c.referrals(), c.credits(), c.used()),
                c -> new Case(c.planUnits(), c.referrals() / 2, c.credits(), c.used()),
                c -> new Case(c.planUnits(), c.referrals() - 1, c.credits(), c.used()),
                c -> new Case(c.planUnits(), c.referrals(), c.credits() / 2, c.used()),
                c -> new Case(c.planUnits(), c.referrals(), c.credits() - 1, c.used()),
                c -> new Case(c.planUnits(), c.referrals(), c.credits(), c.used() / 2),
                c -> new Case(c.planUnits(), c.referrals(), c.credits(), c.used() - 1));
        Case smallest = failing;
        boolean smaller = true;
        for (int rounds = 0; smaller && rounds < 10_000; rounds++) {
            smaller = false;
            for (UnaryOperator<Case> step : steps) {
                Case next = step.apply(smallest);
                if (!next.equals(smallest) && next.planUnits() >= 0 && next.referrals() >= 0 && next.credits() >= 0
                        && next.used() >= 0 && differs(next)) {
                    smallest = next;
                    smaller = true;
                }
            }
        }
        return smallest;
    }
}
