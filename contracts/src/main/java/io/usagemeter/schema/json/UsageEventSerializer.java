package io.usagemeter.schema.json;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import io.usagemeter.schema.events.UsageEvent;
import java.io.IOException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * Writes a {@link UsageEvent} field by field, byte for byte what Jackson's record serialisation
 * writes (same names, order, escaping; {@code occurred_at} as {@link Instant#toString()}), without
 * its per-property dispatch and without formatting the instant through {@code DateTimeFormatter}.
 * Every usage event on the hot path is written here, once per record; {@code JsonTest} compares
 * both serialisations on random events.
 */
final class UsageEventSerializer extends StdSerializer<UsageEvent> {

    private static final SerializableString EVENT_ID = new SerializedString("event_id");
    private static final SerializableString USER_ID = new SerializedString("user_id");
    private static final SerializableString OCCURRED_AT = new SerializedString("occurred_at");
    private static final SerializableString PROVIDER = new SerializedString("provider");
    private static final SerializableString ENDPOINT = new SerializedString("endpoint");
    private static final SerializableString METHOD = new SerializedString("method");
    private static final SerializableString STATUS_CODE = new SerializedString("status_code");
    private static final SerializableString RESPONSE_TIME_MS = new SerializedString("response_time_ms");
    private static final SerializableString REQUEST_BYTES = new SerializedString("request_bytes");
    private static final SerializableString RESPONSE_BYTES = new SerializedString("response_bytes");
    private static final SerializableString TOKENS = new SerializedString("tokens");
    private static final SerializableString UNITS = new SerializedString("units");
    /** {@code yyyy-MM-ddTHH:mm:ss.nnnnnnnnnZ} */
    static final int MAX_FORMATTED_LENGTH = 30;
    private static final long SECONDS_0000_TO_1970 = 62_167_219_200L;
    private static final long SECONDS_10000_TO_1970 = 253_402_300_800L;

    UsageEventSerializer() {
        super(UsageEvent.class);
    }

    @Override
    public void serialize(UsageEvent event, JsonGenerator gen, SerializerProvider provider) throws IOException {
        gen.writeStartObject(event);
        gen.writeFieldName(EVENT_ID);
        gen.writeString(event.eventId());
        gen.writeFieldName(USER_ID);
        gen.writeString(event.userId().toString());
        gen.writeFieldName(OCCURRED_AT);
        char[] instant = new char[MAX_FORMATTED_LENGTH];
        int length = format(event.occurredAt(), instant);
        if (length < 0) {
            gen.writeString(event.occurredAt().toString());
        } else {
            gen.writeString(instant, 0, length);
        }
        gen.writeFieldName(PROVIDER);
        gen.writeString(event.provider().wireName());
        gen.writeFieldName(ENDPOINT);
        gen.writeString(event.endpoint());
        gen.writeFieldName(METHOD);
        gen.writeString(event.method());
        gen.writeFieldName(STATUS_CODE);
        gen.writeNumber(event.statusCode());
        gen.writeFieldName(RESPONSE_TIME_MS);
        gen.writeNumber(event.responseTimeMs());
        gen.writeFieldName(REQUEST_BYTES);
        gen.writeNumber(event.requestBytes());
        gen.writeFieldName(RESPONSE_BYTES);
        gen.writeNumber(event.responseBytes());
        gen.writeFieldName(TOKENS);
        gen.writeNumber(event.tokens());
        gen.writeFieldName(UNITS);
        gen.writeNumber(event.units());
        gen.writeEndObject();
    }

    /**
     * {@link Instant#toString()} into {@code out} for years 0000..9999: seconds always, then 3, 6
     * or 9 fraction digits as needed, then {@code Z}.
     *
     * @return the number of chars written, or -1 for another year (the caller uses {@code toString()})
     */
    static int format(Instant instant, char[] out) {
        long seconds = instant.getEpochSecond();
        if (seconds < -SECONDS_0000_TO_1970 || seconds >= SECONDS_10000_TO_1970) {
            return -1;
        }
        LocalDateTime t = LocalDateTime.ofEpochSecond(seconds, 0, ZoneOffset.UTC);
        put4(out, 0, t.getYear());
        out[4] = '-';
        put2(out, 5, t.getMonthValue());
        out[7] = '-';
        put2(out, 8, t.getDayOfMonth());
        out[10] = 'T';
        put2(out, 11, t.getHour());
        out[13] = ':';
        put2(out, 14, t.getMinute());
        out[16] = ':';
        put2(out, 17, t.getSecond());
        int pos = 19;
        int nanos = instant.getNano();
        if (nanos > 0) {
            out[pos++] = '.';
            int digits;
            int value;
            if (nanos % 1_000_000 == 0) {
                digits = 3;
                value = nanos / 1_000_000;
            } else if (nanos % 1_000 == 0) {
                digits = 6;
                value = nanos / 1_000;
            } else {
                digits = 9;
                value = nanos;
            }
            for (int i = pos + digits - 1; i >= pos; i--) {
                out[i] = (char) ('0' + value % 10);
                value /= 10;
            }
            pos += digits;
        }
        out[pos++] = 'Z';
        return pos;
    }

    private static void put2(char[] out, int at, int value) {
        out[at] = (char) ('0' + value / 10);
        out[at + 1] = (char) ('0' + value % 10);
    }

    private static void put4(char[] out, int at, int value) {
        put2(out, at, value / 100);
        put2(out, at + 2, value % 100);
    }
}
