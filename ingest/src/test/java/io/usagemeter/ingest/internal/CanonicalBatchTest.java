package io.usagemeter.ingest.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.schema.events.Bounds;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import io.usagemeter.schema.events.UsageEventValidation;
import io.usagemeter.schema.json.Json;
import io.usagemeter.schema.topics.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link CanonicalBatch} against the general path it stands in for ({@link UsageEventRequests#validate} and the
 * topic serde): whatever it accepts, the general path accepts too and publishes the very same keys, values and
 * timestamps; and it does accept what the serde writes. Generated events, boundary values, and random mutations
 * of valid bodies.
 */
class CanonicalBatchTest {

    private static final Instant NOW = Instant.parse("2026-12-05T15:00:00.123456789Z");
    private static final Duration LATENESS = UsageEventValidation.DEFAULT_LATENESS;
    private static final int MAX_BATCH = 1000;
    private static final String PRINTABLE = printableAscii();
    private static final String TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /** A record as comparable text: key, value, timestamp. */
    private record Published(String key, String value, long timestamp) {
        static Published of(TopicRecord r) {
            return new Published(new String(r.key(), StandardCharsets.UTF_8), new String(r.value(), StandardCharsets.UTF_8),
                    r.timestamp());
        }
    }

    @Test
    void takes_what_the_serde_writes_as_it_is_and_publishes_what_the_general_path_would() {
        Random random = new Random(15);
        for (int round = 0; round < 300; round++) {
            List<UsageEvent> events = new ArrayList<>();
            int size = 1 + random.nextInt(20);
            for (int i = 0; i < size; i++) {
                events.add(canonicalEvent(random));
            }
            byte[] body = Json.write(events).getBytes(StandardCharsets.UTF_8);

            List<TopicRecord> fast = CanonicalBatch.records(body, MAX_BATCH, NOW, LATENESS);

            assertThat(fast).as("the fast path takes %s", new String(body, StandardCharsets.UTF_8)).isNotNull();
            assertThat(published(fast)).isEqualTo(general(body));
            assertThat(published(fast)).extracting(Published::key)
                    .containsExactlyElementsOf(events.stream().map(e -> e.userId().toString()).toList());
        }
    }

    @Test
    void one_event_without_an_array_is_taken_too() {
        UsageEvent event = canonicalEvent(new Random(1));
        byte[] body = Json.write(event).getBytes(StandardCharsets.UTF_8);

        assertThat(published(CanonicalBatch.records(body, MAX_BATCH, NOW, LATENESS))).isEqualTo(general(body))
                .hasSize(1);
    }

    @Test
    void whitespace_between_events_is_fine_inside_an_event_it_is_for_the_general_path() {
        Random random = new Random(2);
        String a = Json.write(canonicalEvent(random));
        String b = Json.write(canonicalEvent(random));
        byte[] spaced = (" \n[ " + a + " ,\r\n\t" + b + " ]\n").getBytes(StandardCharsets.UTF_8);
        byte[] inside = ("[" + a.replace("\",\"user_id\"", "\", \"user_id\"") + "]").getBytes(StandardCharsets.UTF_8);

        assertThat(published(CanonicalBatch.records(spaced, MAX_BATCH, NOW, LATENESS))).isEqualTo(general(spaced));
        assertThat(CanonicalBatch.records(inside, MAX_BATCH, NOW, LATENESS)).isNull();
        assertThat(general(inside)).hasSize(1);
    }

    @Test
    void the_bounds_of_every_number_and_of_the_time_rules_are_the_general_paths() {
        UsageEvent base = canonicalEvent(new Random(3));
        List<UsageEvent> edges = List.of(
                with(base, 100, 0, 0, 0, 0, 1),
                with(base, 599, Bounds.MAX_RESPONSE_TIME_MS, Bounds.MAX_BYTES, Bounds.MAX_BYTES, Bounds.MAX_TOKENS,
                        Bounds.MAX_UNITS),
                at(base, NOW.plus(UsageEventValidation.MAX_FUTURE_SKEW)),
                at(base, NOW.minus(LATENESS)));
        for (UsageEvent edge : edges) {
            byte[] body = Json.write(List.of(edge)).getBytes(StandardCharsets.UTF_8);
            assertThat(published(CanonicalBatch.records(body, MAX_BATCH, NOW, LATENESS))).as(Json.write(edge))
                    .isEqualTo(general(body));
        }
        List<UsageEvent> beyond = List.of(
                with(base, 99, 0, 0, 0, 0, 1),
                with(base, 600, 0, 0, 0, 0, 1),
                with(base, 200, Bounds.MAX_RESPONSE_TIME_MS + 1, 0, 0, 0, 1),
                with(base, 200, 0, Bounds.MAX_BYTES + 1, 0, 0, 1),
                with(base, 200, 0, 0, Bounds.MAX_BYTES + 1, 0, 1),
                with(base, 200, 0, 0, 0, Bounds.MAX_TOKENS + 1, 1),
                with(base, 200, 0, 0, 0, 0, 0),
                with(base, 200, 0, 0, 0, 0, Bounds.MAX_UNITS + 1),
                with(base, 200, -1, 0, 0, 0, 1),
                at(base, NOW.plus(UsageEventValidation.MAX_FUTURE_SKEW).plusNanos(1)),
                at(base, NOW.minus(LATENESS).minusNanos(1)));
        for (UsageEvent outside : beyond) {
            byte[] body = Json.write(List.of(outside)).getBytes(StandardCharsets.UTF_8);
            assertThat(CanonicalBatch.records(body, MAX_BATCH, NOW, LATENESS)).as(Json.write(outside)).isNull();
            assertThatThrownBy(() -> general(body)).isInstanceOf(IngestRejection.class);
        }
    }

    static Stream<String> notCanonical() {
        String e = Json.write(new UsageEvent("evt-1", UUID.fromString("0a1b2c3d-4e5f-4a6b-8c7d-9e0fa1b2c3d4"),
                NOW.minus(Duration.ofHours(1)).truncatedTo(ChronoUnit.MILLIS), Provider.OPENAI, "/v1/chat/completions",
                "POST", 200, 842, 1200, 5400, 1350, 2));
        String id = e.substring(e.indexOf("\"user_id\":\"") + 11, e.indexOf("\"user_id\":\"") + 47);
        String time = e.substring(e.indexOf("\"occurred_at\":\"") + 15, e.indexOf("\",\"provider\""));
        return Stream.of(
                e.replace(id, id.toUpperCase()),                                   // valid, but the key is written lowercase
                e.replace(time, time.replace("Z", "+00:00")),                      // valid, normalised by the serde
                e.replace(time, time.substring(0, 19) + ".000Z"),                  // valid, Instant writes no fraction
                e.replace(time, time.substring(0, 19) + ".100000Z"),               // valid, Instant writes .100
                e.replace(time, time.substring(0, 19) + ".1Z"),
                e.replace(time, time.substring(0, 19) + "z"),
                e.replace(time, "2026-02-29T10:00:00Z"),
                e.replace(time, "2026-12-05T24:00:00Z"),
                e.replace(time, "2026-12-05T10:00:60Z"),
                e.replace(",\"tokens\":", ",\"tokens\":0").replace(",\"units\":", ",\"units\":0"),  // leading zeros
                e.replace(",\"units\":", ",\"units\":-"),
                e.replace(",\"units\":", ",\"units\":1.").replace("}", "0}"),
                e.replace(",\"tokens\":", ",\"tokens\":1e"),
                e.substring(0, e.indexOf(",\"tokens\"")) + e.substring(e.indexOf(",\"units\"")),       // tokens defaulted
                e.replace("}", ",\"extra\":1}"),
                e.replace("}", ",\"units\":1}"),
                e.replace("\"provider\":\"", "\"provider\":\"x"),
                e.replace("\"method\":\"", "\"method\":\"G T"),
                e.replace("\"event_id\":\"", "\"event_id\":\"\\\""),
                e.replace("\"event_id\":\"", "\"event_id\":\"\\u0041"),
                e.replace("\"endpoint\":\"", "\"endpoint\":\"é"),
                e.replace("\"endpoint\":\"", "\"endpoint\":\"\u007f"),
                e.replace("\"event_id\":\"", "\"event_id\":\"" + "x".repeat(UsageEventValidation.EVENT_ID_MAX_LENGTH)),
                e.replace("\"endpoint\":\"", "\"endpoint\":\"" + "x".repeat(UsageEventValidation.ENDPOINT_MAX_LENGTH)),
                e.replace("\"method\":\"", "\"method\":\"" + "X".repeat(Bounds.METHOD_MAX_LENGTH)),
                e.replace(e.substring(e.indexOf("\"event_id\":\""), e.indexOf("\",\"user_id\"")), "\"event_id\":\""),
                e.replace(e.substring(e.indexOf("\"method\":\""), e.indexOf("\",\"status_code\"")), "\"method\":\""),
                "[" + e + ",]",
                "[" + e + "] x",
                "[]",
                "[" + e + "," + e,
                "\uFEFF[" + e + "]",
                e + e);
    }

    @ParameterizedTest
    @MethodSource("notCanonical")
    void anything_else_is_left_to_the_general_path(String text) {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);

        assertThat(CanonicalBatch.records(body, MAX_BATCH, NOW, LATENESS)).isNull();
        List<Published> published;
        try {
            published = published(UsageEventRequests.records(body, RequestFormat.JSON, Map.of(), MAX_BATCH, NOW, LATENESS));
        } catch (IngestRejection e) {
            published = null;
        }
        assertThat(published).isEqualTo(generalOrNull(body));
    }

    @Test
    void more_events_than_allowed_are_left_to_the_general_path_which_refuses_them() {
        Random random = new Random(5);
        List<UsageEvent> events = List.of(canonicalEvent(random), canonicalEvent(random), canonicalEvent(random));
        byte[] body = Json.write(events).getBytes(StandardCharsets.UTF_8);

        assertThat(CanonicalBatch.records(body, 3, NOW, LATENESS)).hasSize(3);
        assertThat(CanonicalBatch.records(body, 2, NOW, LATENESS)).isNull();
        assertThatThrownBy(() -> UsageEventRequests.records(body, RequestFormat.JSON, Map.of(), 2, NOW, LATENESS))
                .isInstanceOf(IngestRejection.class).hasMessageContaining("too many events in one request: 3, at most 2");
    }

    @Test
    void no_mutation_of_a_valid_body_is_taken_unless_the_general_path_publishes_the_same() {
        Random random = new Random(6);
        byte[] interesting = "\"\\{}[],:0123456789-.eE Zz+TtaAfF\u007f\u0001xé".getBytes(StandardCharsets.UTF_8);
        int taken = 0;
        for (int round = 0; round < 20_000; round++) {
            List<UsageEvent> events = new ArrayList<>();
            for (int i = 1 + random.nextInt(2); i > 0; i--) {
                events.add(canonicalEvent(random));
            }
            byte[] body = mutate(Json.write(events).getBytes(StandardCharsets.UTF_8), random, interesting);

            List<TopicRecord> fast = CanonicalBatch.records(body, MAX_BATCH, NOW, LATENESS);

            if (fast != null) {
                taken++;
                assertThat(published(fast)).as(new String(body, StandardCharsets.UTF_8)).isEqualTo(generalOrNull(body));
            }
        }
        // Some mutations keep a body canonical and valid (a digit for a digit): the comparison above did run.
        assertThat(taken).isPositive();
    }

    private static byte[] mutate(byte[] body, Random random, byte[] interesting) {
        int at = random.nextInt(body.length);
        byte b = random.nextInt(3) == 0 ? (byte) (0x20 + random.nextInt(0x5f)) : interesting[random.nextInt(interesting.length)];
        return switch (random.nextInt(4)) {
            case 0 -> {
                byte[] copy = body.clone();
                copy[at] = b;
                yield copy;
            }
            case 1 -> {
                byte[] copy = new byte[body.length - 1];
                System.arraycopy(body, 0, copy, 0, at);
                System.arraycopy(body, at + 1, copy, at, body.length - at - 1);
                yield copy;
            }
            case 2 -> {
                byte[] copy = new byte[body.length + 1];
                System.arraycopy(body, 0, copy, 0, at);
                copy[at] = b;
                System.arraycopy(body, at, copy, at + 1, body.length - at);
                yield copy;
            }
            default -> {
                // A digit changed into another digit: often still canonical, sometimes out of range or an invalid date.
                byte[] copy = body.clone();
                for (int i = at; i < copy.length; i++) {
                    if (copy[i] >= '0' && copy[i] <= '9') {
                        copy[i] = (byte) ('0' + random.nextInt(10));
                        break;
                    }
                }
                yield copy;
            }
        };
    }

    /** What the general path publishes for {@code body}; throws its {@link IngestRejection}. */
    private static List<Published> general(byte[] body) {
        List<UsageEvent> events = UsageEventRequests.validate(body, RequestFormat.JSON, MAX_BATCH, NOW, LATENESS);
        return events.stream()
                .map(e -> Published.of(TopicRecord.of(Topics.USAGE_EVENTS, e.userId().toString(), e, e.occurredAt())))
                .toList();
    }

    private static List<Published> generalOrNull(byte[] body) {
        try {
            return general(body);
        } catch (IngestRejection e) {
            return null;
        }
    }

    private static List<Published> published(List<TopicRecord> records) {
        return records == null ? null : records.stream().map(Published::of).toList();
    }

    /** A valid event the serde writes without escapes: printable ASCII text, any precision of the event time. */
    static UsageEvent canonicalEvent(Random random) {
        long earliest = NOW.minus(LATENESS).getEpochSecond() + 1;
        long latest = NOW.plus(UsageEventValidation.MAX_FUTURE_SKEW).getEpochSecond() - 1;
        Instant occurredAt = Instant.ofEpochSecond(earliest + (long) (random.nextDouble() * (latest - earliest)),
                random.nextInt(1_000_000_000));
        occurredAt = switch (random.nextInt(4)) {
            case 0 -> occurredAt.truncatedTo(ChronoUnit.SECONDS);
            case 1 -> occurredAt.truncatedTo(ChronoUnit.MILLIS);
            case 2 -> occurredAt.truncatedTo(ChronoUnit.MICROS);
            default -> occurredAt;
        };
        return new UsageEvent(text(random, PRINTABLE, 1 + random.nextInt(random.nextBoolean() ? 40 : UsageEventValidation.EVENT_ID_MAX_LENGTH)),
                new UUID(random.nextLong(), random.nextLong()), occurredAt,
                Provider.values()[random.nextInt(Provider.values().length)],
                text(random, PRINTABLE, 1 + random.nextInt(random.nextBoolean() ? 80 : UsageEventValidation.ENDPOINT_MAX_LENGTH)),
                text(random, TOKEN, 1 + random.nextInt(Bounds.METHOD_MAX_LENGTH)),
                100 + random.nextInt(500), number(random, Bounds.MAX_RESPONSE_TIME_MS), number(random, Bounds.MAX_BYTES),
                number(random, Bounds.MAX_BYTES), number(random, Bounds.MAX_TOKENS), 1 + number(random, Bounds.MAX_UNITS - 1));
    }

    private static long number(Random random, long max) {
        return switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> max;
            case 2 -> random.nextInt(1000);
            default -> (long) (random.nextDouble() * max);
        };
    }

    private static String text(Random random, String alphabet, int length) {
        StringBuilder s = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            s.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return s.toString();
    }

    /** Printable ASCII without the two characters the serde escapes. */
    private static String printableAscii() {
        StringBuilder s = new StringBuilder();
        for (char c = 0x20; c < 0x7F; c++) {
            if (c != '"' && c != '\\') {
                s.append(c);
            }
        }
        return s.toString();
    }

    private static UsageEvent with(UsageEvent e, int status, long responseTimeMs, long requestBytes, long responseBytes,
                                   long tokens, long units) {
        return new UsageEvent(e.eventId(), e.userId(), e.occurredAt(), e.provider(), e.endpoint(), e.method(), status,
                responseTimeMs, requestBytes, responseBytes, tokens, units);
    }

    private static UsageEvent at(UsageEvent e, Instant occurredAt) {
        return new UsageEvent(e.eventId(), e.userId(), occurredAt, e.provider(), e.endpoint(), e.method(), e.statusCode(),
                e.responseTimeMs(), e.requestBytes(), e.responseBytes(), e.tokens(), e.units());
    }
}
