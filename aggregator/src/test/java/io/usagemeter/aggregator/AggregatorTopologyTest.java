package io.usagemeter.aggregator;

import static io.usagemeter.aggregator.AggregatorDriver.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.aggregator.internal.StateKeys;
import io.usagemeter.aggregator.internal.UserPartitioner;
import io.usagemeter.schema.events.AdminCommand;
import io.usagemeter.schema.events.DeadLetter;
import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.MonthlySummaryKey;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.topics.Topics;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AggregatorTopologyTest {

    private static final UUID ALICE = UUID.fromString("6f1c0c5e-6a4e-4b8e-9a43-3f0d2a1c9b01");
    private static final UUID BOB = UUID.fromString("0b7e2f1a-1d2c-4e5f-8a9b-0c1d2e3f4a5b");
    private static final YearMonth FEB_2028 = YearMonth.of(2028, 2);
    private static final YearMonth MAR_2028 = YearMonth.of(2028, 3);

    @TempDir
    Path stateDir;

    private AggregatorDriver driver;

    @BeforeEach
    void start() {
        driver = new AggregatorDriver(stateDir);
    }

    @AfterEach
    void stop() {
        driver.close();
    }

    @Nested
    class Dedupe {

        @Test
        void a_resent_event_counts_once() {
            UsageEvent e = event("evt-1", ALICE, "2028-03-10T10:00:00Z");
            driver.send(e, e, e);

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(1);
            assertThat(driver.emitted()).hasSize(1);
        }

        @Test
        void the_same_event_id_at_another_time_within_the_window_counts_once() {
            driver.send(event("evt-1", ALICE, "2028-03-10T10:00:00Z"),
                    event("evt-1", ALICE, "2028-03-11T09:00:00Z"));

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(1);
        }

        @Test
        void the_same_event_id_for_another_user_is_another_event() {
            driver.send(event("evt-1", ALICE, "2028-03-10T10:00:00Z"), event("evt-1", BOB, "2028-03-10T10:00:00Z"));

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(1);
            assertThat(driver.stored(BOB, MAR_2028).calls()).isEqualTo(1);
        }

        @Test
        void a_retry_arriving_after_the_window_counts_again() {
            UsageEvent first = event("evt-1", ALICE, "2028-03-01T10:00:00Z");
            driver.send(first, event("evt-2", ALICE, "2028-03-05T10:00:00Z"));
            // Remembered at 03-01 10:00, forgotten 48 h later on the task's event-time clock.
            driver.send(first);

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(3);
        }

        @Test
        void a_late_event_is_remembered_from_when_it_is_seen_so_its_retries_count_once() {
            driver.send(event("now", ALICE, "2028-03-20T10:00:00Z"));
            UsageEvent late = event("late", ALICE, "2028-03-02T10:00:00Z");
            driver.send(late);
            driver.send(event("later", ALICE, "2028-03-22T09:00:00Z"), late);

            assertThat(driver.stored(ALICE, MAR_2028).calls()).as("late counted once, within 48 h of when it was seen")
                    .isEqualTo(3);

            driver.send(event("much-later", ALICE, "2028-03-22T11:00:00Z"), late);

            assertThat(driver.stored(ALICE, MAR_2028).calls()).as("more than 48 h after it was seen: counts again")
                    .isEqualTo(5);
        }
        @Test
        void the_same_event_id_at_a_time_beyond_the_window_counts_again() {
            driver.send(event("evt-1", ALICE, "2028-03-01T10:00:00Z"), event("evt-2", ALICE, "2028-03-05T10:00:00Z"));
            // 48 h behind the latest event time is the window's edge: the first sighting is forgotten.
            driver.send(event("evt-1", ALICE, "2028-03-04T10:00:00Z"));

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(3);
        }

        @Test
        void dropping_a_forgotten_segment_does_not_change_decisions() {
            // Segments are a quarter of the window (12 h) of the task's clock: evt-1 is held in [03-01 00:00, 12:00).
            UsageEvent first = event("evt-1", ALICE, "2028-03-01T10:00:00Z");
            driver.send(first, event("evt-2", ALICE, "2028-03-03T11:00:00Z"));
            assertThat(recentEvents()).as("out of the window, its segment still held").isEqualTo(2);
            driver.send(first);
            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(3);

            UsageEvent bobs = event("evt-1", BOB, "2028-03-03T11:00:00Z");
            driver.send(bobs, event("evt-3", ALICE, "2028-03-05T13:00:00Z"));
            assertThat(recentEvents()).as("the segments of 03-01 and 03-03 00:00-12:00 dropped; Bob's event, inside"
                    + " his own window, carried out of its segment").isEqualTo(2);
            assertThat(driver.recentEvents().carriedEvents()).isEqualTo(1);
            driver.send(bobs);
            assertThat(driver.stored(BOB, MAR_2028).calls()).as("Bob's clock has not moved: a duplicate").isEqualTo(1);
        }

        @Test
        void a_quiet_users_events_are_remembered_until_that_users_own_events_move_past_them() {
            UsageEvent bobs = event("evt-1", BOB, "2028-03-03T11:00:00Z");
            driver.send(bobs);
            // Alice moves the task's clock six days on: Bob's event is carried out of every dropped segment.
            for (int day = 4; day <= 9; day++) {
                driver.send(event("a-" + day, ALICE, "2028-03-0" + day + "T13:00:00Z"));
            }
            driver.send(bobs);
            assertThat(driver.stored(BOB, MAR_2028).calls()).as("his own clock has not moved: a duplicate").isEqualTo(1);

            driver.send(event("evt-2", BOB, "2028-03-05T11:00:00Z"), bobs);
            assertThat(driver.stored(BOB, MAR_2028).calls()).as("48 h after it was seen on his clock: still once")
                    .isEqualTo(2);
            driver.send(event("evt-3", BOB, "2028-03-05T11:00:00.001Z"), bobs);
            assertThat(driver.stored(BOB, MAR_2028).calls()).as("a millisecond more: counts again").isEqualTo(4);
        }

        private long recentEvents() {
            return driver.recentEvents().size();
        }
    }

    @Nested
    class CalendarMonths {

        @Test
        void the_last_millisecond_of_a_month_and_midnight_after_fall_in_different_months() {
            driver.send(event("a", ALICE, "2027-12-31T23:59:59.999Z"), event("b", ALICE, "2028-01-01T00:00:00Z"));

            assertThat(driver.stored(ALICE, YearMonth.of(2027, 12)).calls()).isEqualTo(1);
            assertThat(driver.stored(ALICE, YearMonth.of(2028, 1)).calls()).isEqualTo(1);
            assertThat(driver.latest()).containsOnlyKeys(
                    new MonthlySummaryKey(ALICE, YearMonth.of(2027, 12)), new MonthlySummaryKey(ALICE, YearMonth.of(2028, 1)));
        }

        @Test
        void the_29th_of_february_2028_is_in_february() {
            driver.send(event("a", ALICE, "2028-02-28T12:00:00Z"),
                    event("b", ALICE, "2028-02-29T23:59:59.999Z"),
                    event("c", ALICE, "2028-03-01T00:00:00Z"));

            assertThat(driver.stored(ALICE, FEB_2028).calls()).isEqualTo(2);
            assertThat(driver.stored(ALICE, FEB_2028).lastEventAt()).isEqualTo(Instant.parse("2028-02-29T23:59:59.999Z"));
            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(1);
        }

        @Test
        void a_late_event_updates_its_own_month() {
            driver.send(event("mar-1", ALICE, "2028-03-02T08:00:00Z"), event("mar-2", ALICE, "2028-03-03T08:00:00Z"));
            driver.emitted();

            driver.send(event("feb-late", ALICE, "2028-02-27T08:00:00Z"));

            assertThat(driver.stored(ALICE, FEB_2028).calls()).isEqualTo(1);
            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(2);
            assertThat(driver.latest()).containsOnlyKeys(new MonthlySummaryKey(ALICE, FEB_2028));
        }

        @Test
        void a_summary_holds_every_field_of_the_contract() {
            driver.send(new UsageEvent("a", ALICE, Instant.parse("2028-03-02T08:00:00Z"), Provider.OPENAI,
                            "/v1/chat", "POST", 200, 120, 300, 2_000, 50, 2),
                    new UsageEvent("b", ALICE, Instant.parse("2028-03-01T07:00:00Z"), Provider.GITHUB,
                            "/repos", "GET", 404, 80, 100, 500, 0, 1),
                    new UsageEvent("c", ALICE, Instant.parse("2028-03-03T09:30:00Z"), Provider.OPENAI,
                            "/v1/chat", "POST", 503, 900, 250, 10, 7, 1),
                    new UsageEvent("d", ALICE, Instant.parse("2028-03-02T12:00:00Z"), Provider.ANTHROPIC,
                            "/v1/messages", "POST", 399, 40, 10, 20, 1_000, 3));

            MonthlySummary expected = new MonthlySummary(ALICE, MAR_2028, 4, 7, 2, 2, 1_057, 660, 2_530, 1_140, 900,
                    Instant.parse("2028-03-01T07:00:00Z"), Instant.parse("2028-03-03T09:30:00Z"),
                    Map.of(Provider.OPENAI, 2L, Provider.GITHUB, 1L, Provider.ANTHROPIC, 1L));
            assertThat(driver.stored(ALICE, MAR_2028)).isEqualTo(expected);
            assertThat(driver.latest()).containsExactly(Map.entry(new MonthlySummaryKey(ALICE, MAR_2028), expected));
        }

        @Test
        void months_past_the_retention_leave_the_store_and_are_no_longer_counted() {
            driver.send(event("old", ALICE, "2027-02-15T08:00:00Z"), event("kept", ALICE, "2027-03-15T08:00:00Z"));
            // 13 months kept: March 2027 .. March 2028.
            driver.send(event("now", ALICE, "2028-03-15T08:00:00Z"));

            assertThat(driver.stored(ALICE, YearMonth.of(2027, 2))).isNull();
            assertThat(driver.stored(ALICE, YearMonth.of(2027, 3)).calls()).isEqualTo(1);
            driver.emitted();

            driver.send(event("too-late", ALICE, "2027-02-20T08:00:00Z"));

            assertThat(driver.stored(ALICE, YearMonth.of(2027, 2))).isNull();
            assertThat(driver.emitted()).isEmpty();
        }
    }

    @Nested
    class UsageResets {

        @Test
        void after_a_reset_only_events_after_its_instant_count() {
            driver.send(event("before", ALICE, "2028-03-05T10:00:00Z"));
            driver.reset(ALICE, MAR_2028, "2028-03-10T12:00:00Z");
            driver.send(event("earlier", ALICE, "2028-03-09T10:00:00Z"),
                    event("at", ALICE, "2028-03-10T12:00:00Z"),
                    event("after", ALICE, "2028-03-10T12:00:00.001Z"));

            MonthlySummary march = driver.stored(ALICE, MAR_2028);
            assertThat(march.calls()).isEqualTo(1);
            assertThat(march.firstEventAt()).isEqualTo(Instant.parse("2028-03-10T12:00:00.001Z"));
        }

        @Test
        void a_reset_arriving_after_the_events_it_excludes_recomputes_the_month() {
            driver.send(event("a", ALICE, "2028-03-05T10:00:00Z"),
                    event("b", ALICE, "2028-03-11T10:00:00Z", Provider.GEMINI, 500),
                    event("c", ALICE, "2028-03-08T10:00:00Z"));
            driver.emitted();

            driver.reset(ALICE, MAR_2028, "2028-03-10T00:00:00Z");

            MonthlySummary recomputed = new MonthlySummary(ALICE, MAR_2028, 1, 1, 0, 1, 50, 300, 2_000, 120, 120,
                    Instant.parse("2028-03-11T10:00:00Z"), Instant.parse("2028-03-11T10:00:00Z"),
                    Map.of(Provider.GEMINI, 1L));
            assertThat(driver.stored(ALICE, MAR_2028)).isEqualTo(recomputed);
            assertThat(driver.latest()).containsExactly(Map.entry(new MonthlySummaryKey(ALICE, MAR_2028), recomputed));

            driver.send(event("d", ALICE, "2028-03-13T10:00:00Z"), event("late-before", ALICE, "2028-03-09T10:00:00Z"));

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(2);
        }

        @Test
        void a_reset_touches_only_its_user_and_month() {
            driver.send(event("a", ALICE, "2028-02-20T10:00:00Z"), event("b", ALICE, "2028-03-05T10:00:00Z"),
                    event("c", BOB, "2028-03-05T10:00:00Z"));

            driver.reset(ALICE, MAR_2028, "2028-03-31T23:59:59Z");

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isZero();
            assertThat(driver.stored(ALICE, FEB_2028).calls()).isEqualTo(1);
            assertThat(driver.stored(BOB, MAR_2028).calls()).isEqualTo(1);
        }

        @Test
        void the_latest_reset_wins_whatever_the_order() {
            driver.send(event("a", ALICE, "2028-03-19T10:00:00Z"), event("b", ALICE, "2028-03-20T10:00:00Z"),
                    event("c", ALICE, "2028-03-21T10:00:00Z"));

            driver.reset(ALICE, MAR_2028, "2028-03-20T12:00:00Z");
            driver.emitted();
            driver.reset(ALICE, MAR_2028, "2028-03-19T12:00:00Z");

            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(1);
            assertThat(driver.emitted()).as("an earlier reset changes nothing").isEmpty();
        }

        @Test
        void a_reset_of_a_month_without_usage_gives_an_empty_summary() {
            driver.reset(ALICE, MAR_2028, "2028-03-10T00:00:00Z");

            assertThat(driver.latest()).containsExactly(Map.entry(new MonthlySummaryKey(ALICE, MAR_2028),
                    MonthlySummary.empty(new MonthlySummaryKey(ALICE, MAR_2028))));
        }

        @Test
        void a_reset_inside_its_month_and_before_the_window_is_refused_to_the_dead_letter_topic() {
            driver.send(event("a", ALICE, "2028-03-01T10:00:00Z"), event("b", ALICE, "2028-03-05T10:00:00Z"));
            driver.emitted();

            driver.reset(ALICE, MAR_2028, "2028-03-02T00:00:00Z");

            List<TestRecord<byte[], DeadLetter>> letters = driver.deadLetters();
            assertThat(letters).hasSize(1);
            assertThat(letters.get(0).value().topic()).isEqualTo(Topics.ADMIN_COMMANDS.name());
            assertThat(letters.get(0).value().reason()).contains("cannot be applied exactly")
                    .contains("before the dedupe window").contains("2028-03-03T10:00:00Z");
            assertThat(driver.stored(ALICE, MAR_2028).calls()).as("nothing applied").isEqualTo(2);
            assertThat(driver.emitted()).isEmpty();

            driver.reset(ALICE, MAR_2028, "2028-03-04T00:00:00Z");

            assertThat(driver.stored(ALICE, MAR_2028).calls()).as("a reset inside the window applies").isEqualTo(1);
            assertThat(driver.deadLetters()).isEmpty();
        }

        @Test
        void a_reset_is_decided_on_its_users_clock_whatever_other_users_sent() {
            driver.send(event("a", ALICE, "2028-03-01T10:00:00Z"), event("a2", ALICE, "2028-03-02T10:00:00Z"),
                    event("b", BOB, "2028-03-09T10:00:00Z"));
            driver.emitted();

            // Bob moved the task's clock a week on; Alice's window still reaches back to 2028-02-29T10:00.
            driver.reset(ALICE, MAR_2028, "2028-03-01T12:00:00Z");

            assertThat(driver.deadLetters()).isEmpty();
            assertThat(driver.stored(ALICE, MAR_2028).calls()).as("only a2 is after the reset").isEqualTo(1);
            assertThat(driver.stored(BOB, MAR_2028).calls()).isEqualTo(1);
        }

        @Test
        void a_reset_before_the_window_applies_when_it_empties_the_month_and_one_before_its_month_is_refused() {
            driver.send(event("feb", ALICE, "2028-02-10T10:00:00Z"), event("mar", ALICE, "2028-03-20T10:00:00Z"));
            driver.emitted();

            // Before its month started: it would change nothing, and ResetHorizon refuses it as the admin route does.
            driver.reset(ALICE, MAR_2028, "2028-02-15T00:00:00Z");
            List<TestRecord<byte[], DeadLetter>> letters = driver.deadLetters();
            assertThat(letters).hasSize(1);
            assertThat(letters.get(0).value().reason()).contains("2028-03 has not started");

            driver.reset(ALICE, FEB_2028, "2028-03-01T00:00:00Z");
            driver.send(event("feb-late", ALICE, "2028-02-29T10:00:00Z"), event("mar-late", ALICE, "2028-03-01T10:00:00Z"));

            assertThat(driver.deadLetters()).isEmpty();
            assertThat(driver.stored(ALICE, FEB_2028).calls()).as("every February event is at or before the reset")
                    .isZero();
            assertThat(driver.stored(ALICE, MAR_2028).calls()).as("the refused reset changed nothing").isEqualTo(2);
            assertThat(driver.latest()).containsOnlyKeys(new MonthlySummaryKey(ALICE, FEB_2028),
                    new MonthlySummaryKey(ALICE, MAR_2028));
        }

        @Test
        void other_admin_commands_are_left_to_the_enforcer() {
            driver.send(event("a", ALICE, "2028-03-05T10:00:00Z"));
            driver.emitted();

            driver.command(ALICE.toString(), new AdminCommand.AddBonusCredits("cmd-1", ALICE, 10,
                    Instant.parse("2028-03-06T00:00:00Z"), "admin@test"));

            assertThat(driver.emitted()).isEmpty();
            assertThat(driver.deadLetters()).isEmpty();
        }
    }

    @Nested
    class Publication {

        @Test
        void a_thousand_events_of_one_user_in_one_interval_are_published_as_one_summary() {
            Instant start = Instant.parse("2028-03-05T10:00:00Z");
            for (int i = 0; i < 1_000; i++) {
                driver.send(event("e-" + i, ALICE, start.plusSeconds(i).toString()));
            }
            assertThat(driver.emittedSoFar()).as("nothing before the interval ends").isEmpty();

            List<TestRecord<MonthlySummaryKey, MonthlySummary>> published = driver.emitted();

            assertThat(published).hasSize(1);
            assertThat(published.get(0).value()).isEqualTo(driver.stored(ALICE, MAR_2028));
            assertThat(published.get(0).value().calls()).isEqualTo(1_000);
            assertThat(published.get(0).timestamp()).as("the latest event time it reflects")
                    .isEqualTo(start.plusSeconds(999).toEpochMilli());
            assertThat(driver.emitted()).as("nothing changed since").isEmpty();
        }

        @Test
        void each_changed_month_is_published_once_per_interval_and_again_when_it_changes() {
            driver.send(event("a", ALICE, "2028-03-05T10:00:00Z"), event("b", BOB, "2028-03-05T10:01:00Z"),
                    event("c", ALICE, "2028-02-28T10:00:00Z"), event("d", ALICE, "2028-03-05T10:02:00Z"));
            assertThat(driver.emitted()).extracting(TestRecord::key).containsExactlyInAnyOrder(
                    new MonthlySummaryKey(ALICE, MAR_2028), new MonthlySummaryKey(BOB, MAR_2028),
                    new MonthlySummaryKey(ALICE, FEB_2028));

            driver.send(event("e", BOB, "2028-03-05T10:03:00Z"));

            assertThat(driver.emitted()).extracting(r -> r.value().calls()).containsExactly(2L);
        }
    }

    @Nested
    class PoisonPills {

        @Test
        void an_unreadable_event_goes_to_the_dead_letter_topic_and_the_next_one_is_counted(@TempDir Path dir) {
            driver.close();
            AggregatorConfig config = AggregatorConfig.defaults("driver:9092", dir);
            Properties atLeastOnce = config.streamsProperties();
            atLeastOnce.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
            driver = new AggregatorDriver(config, atLeastOnce);

            byte[] garbage = "{\"event_id\": 42, not json".getBytes(StandardCharsets.UTF_8);
            Instant before = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
            driver.sendRaw(ALICE.toString(), garbage, Instant.parse("2028-03-05T10:00:00Z"));
            driver.send(event("ok", ALICE, "2028-03-05T10:01:00Z"));

            TestRecord<byte[], DeadLetter> letter = single(driver.deadLetters().toArray(TestRecord[]::new));
            // Stamped when written, not with the event's time: retention counts from the record timestamp.
            assertThat(letter.getRecordTime()).isBetween(before, Instant.now());
            assertThat(header(letter, "__streams.errors.topic")).isEqualTo(Topics.USAGE_EVENTS.name());
            assertThat(header(letter, "__streams.errors.partition")).isEqualTo("0");
            assertThat(header(letter, "__streams.errors.offset")).isEqualTo("0");
            assertThat(header(letter, "__streams.errors.message")).contains("UsageEvent");
            assertThat(letter.value().stage()).isEqualTo("aggregator.deserialization");
            assertThat(letter.value().payload()).isEqualTo(garbage);
            assertThat(letter.value().offset()).isZero();
            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(1);
        }

        @Test
        void an_event_keyed_by_another_user_goes_to_the_dead_letter_topic_without_counting() {
            UsageEvent misKeyed = event("bad", ALICE, "2028-03-05T10:00:00Z");
            driver.sendRawEvent(BOB.toString(), misKeyed);
            driver.send(event("ok", ALICE, "2028-03-05T10:01:00Z"));

            TestRecord<byte[], DeadLetter> letter = single(driver.deadLetters().toArray(TestRecord[]::new));
            assertThat(letter.value().stage()).isEqualTo("aggregator.processing");
            assertThat(header(letter, "__streams.errors.offset")).isEqualTo("0");
            assertThat(header(letter, "__streams.errors.message")).contains("not by its user_id");
            assertThat(driver.stored(ALICE, MAR_2028).calls()).isEqualTo(1);
            assertThat(driver.stored(BOB, MAR_2028)).isNull();
        }

        @Test
        void an_event_from_the_future_is_refused_so_it_cannot_move_the_clock_of_decisions() {
            driver.sendAt(event("future", ALICE, "2099-01-01T00:00:00Z"), Instant.parse("2028-03-05T10:00:00Z"));
            driver.sendAt(event("skewed", ALICE, "2028-03-05T10:04:59Z"), Instant.parse("2028-03-05T10:00:00Z"));
            driver.send(event("now", ALICE, "2028-03-05T10:01:00Z"));

            TestRecord<byte[], DeadLetter> letter = single(driver.deadLetters().toArray(TestRecord[]::new));
            assertThat(letter.value().reason()).contains("more than 5 minutes after its record time");
            assertThat(driver.stored(ALICE, YearMonth.of(2099, 1))).isNull();
            assertThat(driver.stored(ALICE, MAR_2028).calls()).as("within the 5 minutes of skew, and after").isEqualTo(2);
        }

        @Test
        void a_reset_of_a_month_whose_events_are_gone_is_refused_to_the_dead_letter_topic() {
            driver.send(event("old", ALICE, "2027-10-05T10:00:00Z"), event("now", ALICE, "2028-03-05T10:00:00Z"));

            driver.reset(ALICE, YearMonth.of(2027, 10), "2027-10-20T00:00:00Z");

            TestRecord<byte[], DeadLetter> letter = single(driver.deadLetters().toArray(TestRecord[]::new));
            assertThat(letter.value().topic()).isEqualTo(Topics.ADMIN_COMMANDS.name());
            assertThat(letter.value().reason()).contains("cannot be applied exactly");
            assertThat(driver.stored(ALICE, YearMonth.of(2027, 10)).calls()).isEqualTo(1);
        }

        @SuppressWarnings("unchecked")
        private static TestRecord<byte[], DeadLetter> single(TestRecord<?, ?>[] records) {
            assertThat(records).hasSize(1);
            return (TestRecord<byte[], DeadLetter>) records[0];
        }

        private static String header(TestRecord<byte[], DeadLetter> record, String name) {
            Header h = record.headers().lastHeader(name);
            assertThat(h).as("header " + name).isNotNull();
            return new String(h.value(), StandardCharsets.UTF_8);
        }
    }

    /**
     * The four events that decided differently on one partition and on two when dedupe ran on the partition's clock
     * (docs/testing.md, "Dedupe on each user's own clock"): the late event's resend comes 19 h of its user's event
     * time after it was seen, so it counts again, on any partition count; whatever another user sent before.
     */
    @Test
    void the_same_events_decide_the_same_on_one_partition_and_on_two(@TempDir Path dirs) throws Exception {
        UUID lateUser = new UUID(0x5eed, 1);
        UUID otherUser = new UUID(0x5eed, 3);
        for (long i = 3; UserPartitioner.partitionOf(otherUser, 2) == UserPartitioner.partitionOf(lateUser, 2); i++) {
            otherUser = new UUID(0x5eed, i);
        }
        UsageEvent late = event("evt-36", lateUser, "2028-02-28T21:17:20Z");
        List<UsageEvent> events = List.of(event("evt-35", otherUser, "2028-02-29T16:01:56Z"), late,
                event("evt-39", lateUser, "2028-02-29T16:14:43Z"), late);

        Map<MonthlySummaryKey, MonthlySummary> onOne = split(events, 1, dirs);
        Map<MonthlySummaryKey, MonthlySummary> onTwo = split(events, 2, dirs);

        assertThat(onTwo).isEqualTo(onOne);
        assertThat(onOne.get(new MonthlySummaryKey(lateUser, FEB_2028)).calls())
                .as("evt-36 twice (its resend 19 h later on its user's clock, past the 6 h window) and evt-39")
                .isEqualTo(3);
        assertThat(onOne.get(new MonthlySummaryKey(otherUser, FEB_2028)).calls()).isEqualTo(1);
    }

    /** The summaries of {@code events} over {@code partitions} tasks (window 6 h), each user in its partition. */
    private static Map<MonthlySummaryKey, MonthlySummary> split(List<UsageEvent> events, int partitions, Path dirs)
            throws Exception {
        List<AggregatorDriver> tasks = new ArrayList<>();
        try {
            for (int p = 0; p < partitions; p++) {
                tasks.add(new AggregatorDriver(AggregatorConfig.fromEnv(Map.of("METER_AGGREGATOR_DEDUPE_WINDOW", "PT6H",
                        "METER_AGGREGATOR_STATE_DIR", Files.createTempDirectory(dirs, "task").toString()))));
            }
            for (UsageEvent e : events) {
                tasks.get(UserPartitioner.partitionOf(e.userId(), partitions)).send(e);
            }
            Map<MonthlySummaryKey, MonthlySummary> summaries = new HashMap<>();
            tasks.forEach(task -> summaries.putAll(task.latest()));
            return summaries;
        } finally {
            tasks.forEach(AggregatorDriver::close);
        }
    }

    @Test
    void a_replay_of_the_same_input_gives_the_same_summaries(@TempDir Path otherStateDir) {
        Runnable input = () -> {
            driver.send(event("a", ALICE, "2028-03-05T10:00:00Z"), event("b", ALICE, "2028-03-06T10:00:00Z"));
            driver.reset(ALICE, MAR_2028, "2028-03-05T12:00:00Z");
            driver.send(event("a", ALICE, "2028-03-05T10:00:00Z"), event("c", BOB, "2028-02-29T10:00:00Z"),
                    event("b", ALICE, "2028-03-06T10:00:00Z"), event("d", ALICE, "2028-03-07T10:00:00Z"));
        };
        input.run();
        Map<MonthlySummaryKey, MonthlySummary> first = driver.latest();
        driver.close();

        driver = new AggregatorDriver(otherStateDir);
        driver.advanceWallClock(Duration.ofDays(400));
        input.run();

        assertThat(driver.latest()).isEqualTo(first);
        assertThat(first.get(new MonthlySummaryKey(ALICE, MAR_2028)).calls()).isEqualTo(2);
    }
}
