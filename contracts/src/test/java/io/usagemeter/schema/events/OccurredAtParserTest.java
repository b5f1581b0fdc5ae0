package io.usagemeter.schema.events;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code occurred_at} accepts exactly what {@code OffsetDateTime.parse(ISO_OFFSET_DATE_TIME)}
 * accepted before the fast parser existed: the cases are pinned here, and a differential test
 * compares both on mutated timestamps.
 */
class OccurredAtParserTest {

    @ParameterizedTest
    @CsvSource({
            "2025-03-10T11:59:00Z,                 2025-03-10T11:59:00Z",
            "2025-03-10T11:59:00.5Z,               2025-03-10T11:59:00.500Z",
            "2025-03-10T11:59:00.000Z,             2025-03-10T11:59:00Z",
            "2025-03-10T11:59:00.123456789Z,       2025-03-10T11:59:00.123456789Z",
            "2025-03-10T13:59:00.5+02:00,          2025-03-10T11:59:00.500Z",
            "2025-03-10T06:29:00-05:30,            2025-03-10T11:59:00Z",
            "2025-03-10T11:59:00-00:00,            2025-03-10T11:59:00Z",
            "2025-03-10T11:59:00+18:00,            2025-03-09T17:59:00Z",
            "2025-03-10T11:59:00-18:00,            2025-03-11T05:59:00Z",
            "2025-03-01T00:30:00+01:00,            2025-02-28T23:30:00Z",
            "2024-02-29T00:00:00Z,                 2024-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z,                 2000-02-29T00:00:00Z",
            "1970-01-01T00:00:00Z,                 1970-01-01T00:00:00Z",
            "0000-03-10T11:59:00Z,                 0000-03-10T11:59:00Z",
            "9999-12-31T23:59:59.999999999Z,       9999-12-31T23:59:59.999999999Z",
            // Accepted by the JDK's ISO parser, hence by the contract as it stands:
            "2025-03-10t11:59:00z,                 2025-03-10T11:59:00Z",
            "2025-03-10T11:59Z,                    2025-03-10T11:59:00Z",
            "2025-03-10T11:59:00.Z,                2025-03-10T11:59:00Z",
            "2025-03-10T13:59:00+02,               2025-03-10T11:59:00Z",
            "2025-03-10T13:59:30+02:00:30,         2025-03-10T11:59:00Z",
            "+12025-03-10T11:59:00Z,               +12025-03-10T11:59:00Z",
            "-0001-03-10T11:59:00Z,                -0001-03-10T11:59:00Z",
    })
    void acceptsWhatTheIsoParserAccepts(String text, String expected) {
        assertThat(OccurredAtParser.parse(text)).isEqualTo(Instant.parse(expected));
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "", "yesterday", "2025-03-10", "2025-03-10T11:59:00", "2025-03-10 11:59:00Z", "2025-03-10T11:59:00 Z",
            "2025-03-10T11:59:00Z ", " 2025-03-10T11:59:00Z", "2025-03-10T11:59:00UTC", "2025-03-10T11:59:00+02:00[Europe/Paris]",
            "2025-02-30T10:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z",
            "2025-13-10T11:59:00Z", "2025-00-10T11:59:00Z", "2025-03-00T11:59:00Z", "2025-03-10T24:00:00Z",
            "2025-03-10T11:60:00Z", "2025-03-10T23:59:60Z", "2025-03-10T11:59:00.1234567891Z", "2025-03-10T11:59:00,5Z",
            "2025-3-10T11:59:00Z", "+2025-03-10T11:59:00Z", "2025-03-10T11:59:00+0200", "2025-03-10T11:59:00+2:00",
            "2025-03-10T11:59:00+02:0", "2025-03-10T11:59:00+02:", "2025-03-10T11:59:00+0", "2025-03-10T11:59:00+18:01",
            "2025-03-10T11:59:00+19:00", "2025-03-10T11:59:00+00:60", "2025-03-10T11:59:00+02:30:5",
            "\uff12\uff10\uff12\uff15-03-10T11:59:00Z", "2025-03-10T11:59:00ZZ", "2025-03-10T11:59:00.5",
    })
    void rejectsWhatTheIsoParserRejects(String text) {
        assertThat(OccurredAtParser.parse(text)).isNull();
        assertThat(iso(text)).isNull();
    }

    @Test
    void theCanonicalShapeNeverReachesTheJdkParser() {
        // The instants, written out by hand: epoch seconds of 2025-03-10T11:59:00Z are 1741607940.
        assertThat(OccurredAtParser.parseCanonical("2025-03-10T11:59:00Z")).isEqualTo(Instant.ofEpochSecond(1_741_607_940L));
        assertThat(OccurredAtParser.parseCanonical("2025-03-10T11:59:00.123Z"))
                .isEqualTo(Instant.ofEpochSecond(1_741_607_940L, 123_000_000));
        assertThat(OccurredAtParser.parseCanonical("2025-03-10T13:59:00.123456+02:00"))
                .isEqualTo(Instant.ofEpochSecond(1_741_607_940L, 123_456_000));
        assertThat(OccurredAtParser.parseCanonical("2025-03-10T09:29:00.000000001-02:30"))
                .isEqualTo(Instant.ofEpochSecond(1_741_607_940L, 1));
    }

    /** Random edits of valid timestamps: both parsers agree on every text, accepted or not. */
    @Test
    void agreesWithTheIsoParserOnMutatedTimestamps() {
        Random random = new Random(20250310);
        String alphabet = "0123456789-+:.TZtz ";
        String[] seeds = {"2025-03-10T11:59:00Z", "2024-02-29T23:59:59.999+14:00", "2000-12-31T00:00:00.5-09:30",
                "1999-06-15T12:34:56.123456789+00:00", "2100-02-28T01:02:03.04-18:00"};
        int agreed = 0;
        int accepted = 0;
        for (int n = 0; n < 50_000; n++) {
            StringBuilder text = new StringBuilder(seeds[random.nextInt(seeds.length)]);
            for (int edits = 1 + random.nextInt(2); edits > 0; edits--) {
                int at = random.nextInt(text.length());
                char c = alphabet.charAt(random.nextInt(alphabet.length()));
                switch (random.nextInt(3)) {
                    case 0 -> text.setCharAt(at, c);
                    case 1 -> text.insert(at, c);
                    default -> text.deleteCharAt(at);
                }
            }
            String s = text.toString();
            Instant expected = iso(s);
            assertThat(OccurredAtParser.parse(s)).as(s).isEqualTo(expected);
            agreed++;
            if (expected != null) {
                accepted++;
            }
        }
        // The mutations must exercise both outcomes, or the test proves little.
        assertThat(accepted).isGreaterThan(agreed / 20).isLessThan(agreed - agreed / 20);
    }

    private static Instant iso(String text) {
        try {
            return OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
