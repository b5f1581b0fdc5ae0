package io.usagemeter.schema.json;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The hand-written usage event serializer writes exactly what Jackson's record serialisation wrote. */
class UsageEventSerializerTest {

    private static final ObjectMapper HAND_WRITTEN = Json.newMapper(true);
    private static final ObjectMapper JACKSON = Json.newMapper(false);

    @Test
    void writesTheSameBytesAsJacksonsRecordSerialisation() throws Exception {
        Random random = new Random(42);
        for (int n = 0; n < 20_000; n++) {
            UsageEvent event = randomEvent(random);
            assertThat(HAND_WRITTEN.writeValueAsString(event)).isEqualTo(JACKSON.writeValueAsString(event));
        }
    }

    @Test
    void writesTheSameInsideCollections() throws Exception {
        Random random = new Random(7);
        List<UsageEvent> events = new ArrayList<>();
        for (int n = 0; n < 50; n++) {
            events.add(randomEvent(random));
        }
        assertThat(HAND_WRITTEN.writeValueAsBytes(events)).isEqualTo(JACKSON.writeValueAsBytes(events));
    }

    @Test
    void occurredAtIsWrittenAsInstantToString() {
        for (String text : List.of("2025-01-31T23:59:59Z", "2025-01-31T23:59:59.100Z", "2025-01-31T23:59:59.000001Z",
                "2025-01-31T23:59:59.000000001Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z",
                "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z")) {
            char[] out = new char[UsageEventSerializer.MAX_FORMATTED_LENGTH];
            Instant instant = Instant.parse(text);
            assertThat(new String(out, 0, UsageEventSerializer.format(instant, out))).isEqualTo(instant.toString()).isEqualTo(text);
        }
        // Other years are left to Instant.toString().
        assertThat(UsageEventSerializer.format(Instant.parse("+10000-01-01T00:00:00Z"), new char[30])).isEqualTo(-1);
        assertThat(UsageEventSerializer.format(Instant.parse("-0001-12-31T23:59:59Z"), new char[30])).isEqualTo(-1);
    }

    @Test
    void theSharedMapperUsesTheHandWrittenSerializer() throws Exception {
        UsageEvent event = randomEvent(new Random(1));
        assertThat(HAND_WRITTEN.getSerializerProviderInstance().findValueSerializer(UsageEvent.class))
                .isInstanceOf(UsageEventSerializer.class);
        assertThat(Json.write(event)).isEqualTo(JACKSON.writeValueAsString(event));
    }

    private static UsageEvent randomEvent(Random random) {
        long seconds = switch (random.nextInt(4)) {
            case 0 -> 1_700_000_000L + random.nextInt(100_000_000);
            case 1 -> random.nextLong(-62_167_219_200L, 253_402_300_800L);
            case 2 -> random.nextLong(-100_000_000_000L, 400_000_000_000L);
            default -> random.nextInt(3) - 1;
        };
        int nanos = switch (random.nextInt(4)) {
            case 0 -> 0;
            case 1 -> random.nextInt(1000) * 1_000_000;
            case 2 -> random.nextInt(1_000_000) * 1_000;
            default -> random.nextInt(1_000_000_000);
        };
        return new UsageEvent(text(random, 1 + random.nextInt(40)), new UUID(random.nextLong(), random.nextLong()),
                Instant.ofEpochSecond(seconds, nanos), Provider.values()[random.nextInt(Provider.values().length)],
                text(random, random.nextInt(80)), text(random, 1 + random.nextInt(8)), random.nextInt(),
                random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong(), random.nextLong());
    }

    /** ASCII mostly, with quotes, backslashes, control characters, non-ASCII and surrogate pairs. */
    private static String text(Random random, int length) {
        String specials = "\"\\/\n\t\u0001\u001f\u007f\u00e9\u2028\u20ac<>&'";
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < length; i++) {
            switch (random.nextInt(10)) {
                case 0 -> s.append(specials.charAt(random.nextInt(specials.length())));
                case 1 -> s.appendCodePoint(0x1F600 + random.nextInt(50));
                default -> s.append((char) (' ' + random.nextInt(95)));
            }
        }
        return s.toString();
    }
}
