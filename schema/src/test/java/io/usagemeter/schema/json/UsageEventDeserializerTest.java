package io.usagemeter.schema.json;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.deser.DefaultDeserializationContext;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The hand-written usage event deserializer gives exactly what Jackson's record deserialisation
 * gives: the same event for every document it accepts, and the same failure (exception type,
 * message, path, location) for every document it refuses.
 */
class UsageEventDeserializerTest {

    private static final ObjectMapper HAND_WRITTEN_MAPPER = Json.newMapper(true);
    private static final ObjectReader HAND_WRITTEN = HAND_WRITTEN_MAPPER.readerFor(UsageEvent.class);
    private static final ObjectReader JACKSON = Json.newMapper(false).readerFor(UsageEvent.class);
    private static final List<String> FIELDS = UsageEventDeserializer.FIELDS;
    private static final String VALID = """
            {"event_id":"e","user_id":"6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5f","occurred_at":"2025-01-31T10:00:00Z",\
            "provider":"github","endpoint":"/repos","method":"GET","status_code":404,"response_time_ms":5,\
            "request_bytes":0,"response_bytes":10}""";

    @Test
    void randomValidEventsReadTheSame() throws Exception {
        Random random = new Random(20261125);
        for (int n = 0; n < 20_000; n++) {
            UsageEvent event = randomEvent(random);
            Map<String, String> fields = wireFields(event, random);
            String json = render(fields, random);
            UsageEvent expected = JACKSON.readValue(bytes(json));
            assertThat(read(HAND_WRITTEN, json)).as(json).isEqualTo(expected);
        }
    }

    @Test
    void theSerializersOutputReadsBackToTheSameEvent() throws Exception {
        Random random = new Random(11);
        for (int n = 0; n < 5_000; n++) {
            UsageEvent event = randomEvent(random);
            byte[] written = HAND_WRITTEN_MAPPER.writeValueAsBytes(event);
            assertThat((UsageEvent) HAND_WRITTEN.readValue(written)).isEqualTo(event);
            assertThat((UsageEvent) JACKSON.readValue(written)).isEqualTo(event);
        }
    }

    @Test
    void randomlyBrokenEventsFailTheSame() throws Exception {
        Random random = new Random(42);
        int refused = 0;
        for (int n = 0; n < 20_000; n++) {
            Map<String, String> fields = wireFields(randomEvent(random), random);
            String json = render(mutate(fields, random), random);
            json = mutateText(json, random);
            Outcome expected = outcome(JACKSON, json);
            assertThat(outcome(HAND_WRITTEN, json)).as(json).isEqualTo(expected);
            if (expected.failure() != null) {
                refused++;
            }
        }
        // Most mutations break the event; the comparison above must have covered refusals.
        assertThat(refused).isGreaterThan(10_000);
    }

    @Test
    void everyKindOfMalformedDocumentGivesTheSameOutcome() {
        List<String> documents = new ArrayList<>();
        for (String field : FIELDS) {
            documents.add(VALID.replaceFirst("\"" + field + "\":[^,}]*,?", "").replace(",}", "}")); // missing
            documents.add(withValue(field, "null"));
            documents.add(withValue(field, "[]"));
            documents.add(withValue(field, "{\"a\":1}"));
            documents.add(withValue(field, "true"));
            documents.add(withValue(field, "1.0"));
            documents.add(withValue(field, "1e2"));
            documents.add(withValue(field, "\"5\""));
            documents.add(withValue(field, "\"\""));
            documents.add(withValue(field, "99999999999999999999"));
            documents.add(withValue(field, "2147483648"));
            documents.add(withValue(field, "-1"));
            documents.add(VALID.replace("}", ",\"" + field + "\":1}")); // duplicate
        }
        documents.addAll(List.of(
                VALID.replace("}", ",\"colour\":\"red\"}"), "{\"colour\":[1,{\"x\":null}]," + VALID.substring(1),
                VALID.replace("}", ",\"tokens\":1,\"units\":2,\"colour\":1}"),
                VALID.replace("}", ",\"colour\":1,\"tokens\":1,\"units\":2}"),
                VALID.replace("\"/repos\"", "null").replace("}", ",\"colour\":1}"),
                VALID.replace("\"/repos\"", "null").replace("}", ",\"tokens\":1,\"units\":1,\"colour\":2}"),
                VALID.replace("\"github\"", "\"GitHub\""), VALID.replace("\"github\"", "\"github \""),
                VALID.replace("\"github\"", "\"openai\u0000\""), VALID.replace("\"github\"", "7"),
                VALID.replace("6f1c3a2e-8d4b", "6f1c3a2e8d4b-"), VALID.replace("6f1c3a2e", "6f1c3a2g"),
                VALID.replace("6f1c3a2e", "6f1c3a2\u0660"), VALID.replace("6f1c3a2e-", "6f1c3a2e+"),
                VALID.replace("\"6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5f\"", "\"b2YxYzNhMmUtOGQ0Yi00YzFh\""),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31T10:00:00"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-02-30T10:00:00Z"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31T24:00:00Z"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31T10:00:60Z"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31T10:00:00.Z"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31T10:00:00.1234567891Z"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31T10:00:00+18:01"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31T10:00:00+0100"),
                VALID.replace("2025-01-31T10:00:00Z", "2025-01-31 10:00:00Z"),
                VALID.replace("2025-01-31T10:00:00Z", "12345678901234567890"),
                VALID + " x", VALID + " {}", VALID + " 5", VALID.substring(0, VALID.length() - 1),
                VALID.replace(",\"method\"", " \"method\""), VALID.replace("\"e\"", "\"\\x\""),
                VALID.replace("\"e\"", "\"\\ud800\""), "[" + VALID + "]", "\"x\"", "5", "true", "[]", "{}",
                "{\"colour\":1}", "", " ", "{", "{\"event_id\"", "{\"event_id\":", "{\"event_id\":\"e\""));
        for (String json : documents) {
            Outcome expected = outcome(JACKSON, json);
            Outcome actual = outcome(HAND_WRITTEN, json);
            assertThat(actual).as(json).isEqualTo(expected);
        }
        // The ones the contract says must fail do fail, naming the field.
        for (String json : List.of(withValue("status_code", "\"200\""), withValue("status_code", "1.0"),
                withValue("units", "1.5"), withValue("status_code", "null"), withValue("provider", "\"GitHub\""),
                withValue("user_id", "\"nope\""), VALID.replace("}", ",\"units\":1,\"units\":2}"),
                VALID.replace("}", ",\"colour\":1}"), VALID.replace("\"endpoint\":\"/repos\",", ""),
                withValue("endpoint", "null"))) {
            Outcome actual = outcome(HAND_WRITTEN, json);
            assertThat(actual.failure()).as(json).isNotNull();
        }
        assertThat(outcome(HAND_WRITTEN, withValue("status_code", "\"200\"")).failure()).contains("status_code");
        assertThat(outcome(HAND_WRITTEN, VALID.replace("}", ",\"colour\":1}")).failure()).contains("colour");
        assertThat(outcome(HAND_WRITTEN, withValue("endpoint", "null")).failure()).contains("endpoint");
    }

    @Test
    void optionalCountsDefaultAsBefore() throws Exception {
        UsageEvent absent = HAND_WRITTEN.readValue(bytes(VALID));
        UsageEvent nulls = HAND_WRITTEN.readValue(bytes(VALID.replace("}", ",\"tokens\":null,\"units\":null}")));
        assertThat(absent.tokens()).isEqualTo(UsageEvent.DEFAULT_TOKENS);
        assertThat(absent.units()).isEqualTo(UsageEvent.DEFAULT_UNITS);
        assertThat(nulls).isEqualTo(absent).isEqualTo(JACKSON.readValue(bytes(VALID)));
    }

    @Test
    void theSharedMapperReadsUsageEventsByHandEvenInsideCollections() throws Exception {
        ObjectMapper shared = Json.newMapper();
        try (JsonParser parser = shared.createParser(bytes(VALID))) {
            DeserializationContext ctxt = ((DefaultDeserializationContext) shared.getDeserializationContext())
                    .createInstance(shared.getDeserializationConfig(), parser, null);
            assertThat(ctxt.findRootValueDeserializer(ctxt.constructType(UsageEvent.class)))
                    .isInstanceOf(UsageEventDeserializer.class);
        }
        List<UsageEvent> events = shared.readValue("[" + VALID + "," + VALID + "]", new TypeReference<>() {});
        UsageEvent expected = JACKSON.readValue(bytes(VALID));
        assertThat(events).containsExactly(expected, expected);
    }

    // --- outcomes

    /** The event read, or what the failure says: type, message, path, location, cause type. */
    record Outcome(UsageEvent event, String failure) {
    }

    private static Outcome outcome(ObjectReader reader, String json) {
        try {
            return new Outcome(reader.readValue(bytes(json)), null);
        } catch (Exception e) {
            StringBuilder failure = new StringBuilder(e.getClass().getName());
            if (e instanceof JsonProcessingException processing) {
                failure.append(": ").append(processing.getOriginalMessage()).append(" at ").append(processing.getLocation());
            } else {
                failure.append(": ").append(e.getMessage());
            }
            if (e instanceof JsonMappingException mapping) {
                failure.append(" path ").append(mapping.getPathReference());
            }
            if (e.getCause() != null) {
                failure.append(" cause ").append(e.getCause().getClass().getName()).append(": ").append(e.getCause().getMessage());
            }
            return new Outcome(null, failure.toString());
        }
    }

    private static UsageEvent read(ObjectReader reader, String json) throws Exception {
        return reader.readValue(bytes(json));
    }

    private static byte[] bytes(String json) {
        return json.getBytes(StandardCharsets.UTF_8);
    }

    private static String withValue(String field, String value) {
        if (VALID.contains("\"" + field + "\"")) {
            return VALID.replaceFirst("(\"" + field + "\":)[^,}]*", "$1" + java.util.regex.Matcher.quoteReplacement(value));
        }
        return VALID.replace("}", ",\"" + field + "\":" + value + "}");
    }

    // --- generated documents

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
                text(random, random.nextInt(80)), text(random, 1 + random.nextInt(8)), number(random, true),
                number(random, false), number(random, false), number(random, false), number(random, false),
                number(random, false));
    }

    private static int number(Random random, boolean small) {
        return switch (random.nextInt(4)) {
            case 0 -> random.nextInt(1000);
            case 1 -> small ? random.nextInt() : random.nextInt(Integer.MAX_VALUE);
            case 2 -> -random.nextInt(1000);
            default -> random.nextBoolean() ? Integer.MAX_VALUE : Integer.MIN_VALUE;
        };
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

    /** The event's fields as JSON values, in contract order, written in one of the ways clients may write them. */
    private static Map<String, String> wireFields(UsageEvent event, Random random) {
        Map<String, String> fields = new LinkedHashMap<>();
        fields.put("event_id", string(event.eventId(), random));
        String uuid = event.userId().toString();
        fields.put("user_id", string(switch (random.nextInt(6)) {
            case 0 -> uuid.toUpperCase(Locale.ROOT);
            case 1 -> mixedCase(uuid, random);
            default -> uuid;
        }, random));
        fields.put("occurred_at", occurredAt(event.occurredAt(), random));
        fields.put("provider", string(event.provider().wireName(), random));
        fields.put("endpoint", string(event.endpoint(), random));
        fields.put("method", string(event.method(), random));
        fields.put("status_code", Long.toString(event.statusCode()));
        fields.put("response_time_ms", Long.toString(event.responseTimeMs()));
        fields.put("request_bytes", Long.toString(event.requestBytes()));
        fields.put("response_bytes", Long.toString(event.responseBytes()));
        for (String optional : List.of("tokens", "units")) {
            long value = optional.equals("tokens") ? event.tokens() : event.units();
            switch (random.nextInt(5)) {
                case 0 -> { } // absent
                case 1 -> fields.put(optional, "null");
                default -> fields.put(optional, Long.toString(value));
            }
        }
        return fields;
    }

    private static String mixedCase(String text, Random random) {
        StringBuilder s = new StringBuilder();
        for (char c : text.toCharArray()) {
            s.append(random.nextBoolean() ? Character.toUpperCase(c) : c);
        }
        return s.toString();
    }

    /** Mostly the canonical shape; also offsets, lowercase, short fractions, epoch numbers, padded text. */
    private static String occurredAt(Instant instant, Random random) {
        String canonical = instant.toString();
        return switch (random.nextInt(12)) {
            case 0 -> {
                int offsetMinutes = random.nextInt(-18 * 60, 18 * 60 + 1);
                ZoneOffset offset = ZoneOffset.ofTotalSeconds(offsetMinutes * 60);
                String text = instant.atOffset(offset).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
                yield string(text, random);
            }
            case 1 -> string(canonical.toLowerCase(Locale.ROOT), random);
            case 2 -> string(canonical.replace("Z", random.nextBoolean() ? "+00:00" : "-00:00"), random);
            case 3 -> Long.toString(instant.getEpochSecond());
            case 4 -> string(" " + canonical, random);
            case 5 -> string(canonical.replaceFirst("(\\.\\d)\\d*Z", "$1Z"), random);
            case 7 -> string(instant.getEpochSecond() + "." + String.format("%09d", instant.getNano()), random);
            default -> string(canonical, random);
        };
    }

    /** A JSON string literal; sometimes with characters written as {@code \\u} escapes. */
    private static String string(String value, Random random) {
        boolean escapeMore = random.nextInt(8) == 0;
        StringBuilder s = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            if (c == '"' || c == '\\') {
                s.append('\\').append(c);
            } else if (c < 0x20 || (escapeMore && random.nextInt(3) == 0)) {
                s.append(String.format("\\u%04x", (int) c));
            } else {
                s.append(c);
            }
        }
        return s.append('"').toString();
    }

    /** Fields in contract order mostly, else shuffled; random whitespace; names sometimes escaped. */
    private static String render(Map<String, String> fields, Random random) {
        List<Map.Entry<String, String>> entries = new ArrayList<>(fields.entrySet());
        if (random.nextInt(4) == 0) {
            Collections.shuffle(entries, random);
        }
        boolean spaced = random.nextInt(4) == 0;
        StringBuilder s = new StringBuilder(spaced ? " {\n" : "{");
        for (int i = 0; i < entries.size(); i++) {
            if (i > 0) {
                s.append(spaced ? " ,\n\t" : ",");
            }
            String name = entries.get(i).getKey();
            if (random.nextInt(50) == 0) {
                name = "\\u" + String.format("%04x", (int) name.charAt(0)) + name.substring(1);
            }
            s.append('"').append(name).append('"').append(spaced ? " : " : ":").append(entries.get(i).getValue());
        }
        return s.append(spaced ? "\r\n} " : "}").toString();
    }

    private static final List<String> WRONG_VALUES = List.of("null", "\"\"", "\"x\"", "\"5\"", "5", "-1", "1.5", "1.0",
            "2e3", "true", "false", "[]", "[1]", "{}", "{\"event_id\":\"e\"}", "2147483648", "9223372036854775808",
            "\"6f1c3a2e-8d4b-4c1a-9e2f-0a1b2c3d4e5f\"", "\"2025-01-31T10:00:00Z\"", "\"openai\"", "\"OPENAI\"", "4",
            "\"  \"", "\"1700000000\"", "-0", "0");

    /** One to three of: a field dropped, a value replaced, an unknown field, a duplicate field. */
    private static Map<String, String> mutate(Map<String, String> fields, Random random) {
        Map<String, String> mutated = new LinkedHashMap<>(fields);
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
            String field = FIELDS.get(random.nextInt(FIELDS.size()));
            switch (random.nextInt(5)) {
                case 0 -> mutated.remove(field);
                case 1, 2 -> mutated.put(field, WRONG_VALUES.get(random.nextInt(WRONG_VALUES.size())));
                case 3 -> mutated.put(random.nextBoolean() ? "colour" : "Units", WRONG_VALUES.get(random.nextInt(WRONG_VALUES.size())));
                // A second occurrence of the name: mutateText removes the marker after rendering.
                default -> mutated.put(field + "\u0000dup", fields.getOrDefault(field, "1"));
            }
        }
        return mutated;
    }

    /** Sometimes damages the text itself: trailing tokens or a truncated document; also turns markers into duplicates. */
    private static String mutateText(String json, Random random) {
        String text = json.replace("\u0000dup", "");
        return switch (random.nextInt(20)) {
            case 0 -> text + " {}";
            case 1 -> text + " x";
            case 2 -> text.substring(0, random.nextInt(text.length()));
            default -> text;
        };
    }
}
