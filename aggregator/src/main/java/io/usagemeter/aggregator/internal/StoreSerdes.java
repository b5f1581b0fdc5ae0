package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.MonthlySummary;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.topics.Topics;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Consumer;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Fixed-layout binary values of the aggregator's own stores (never on a topic others read): the
 * monthly summaries, rewritten for every event, and the dedupe memory's chunks, blocks and runs. JSON there cost
 * more than everything else the stream thread did; JSON stays on the topics.
 *
 * <p>Each value starts with a format byte. Values written as JSON by earlier versions start with
 * <code>'{'</code> and are still read (through the topic's JSON serde), so existing changelogs
 * restore without a reset.
 */
public final class StoreSerdes {

    private static final byte FORMAT_V1 = 1;
    private static final byte JSON_OBJECT = '{';
    private static final Provider[] PROVIDERS = Provider.values();

    private StoreSerdes() {
    }

    /** A monthly summary, every field kept. */
    public static Serde<MonthlySummary> summaries() {
        return Serdes.serdeFrom(binary(StoreSerdes::writeSummary, s -> SUMMARY_SIZE),
                withJsonFallback(StoreSerdes::readSummary, Topics.USAGE_SUMMARIES.valueSerde().deserializer()));
    }

    /** Remembered at, user, id length, occurred at (seconds, nanos), provider, status, five counters. */
    private static final int REMEMBERED_FIXED = 8 + 16 + 4 + 12 + 1 + 4 + 5 * 8;

    /** Events remembered by the dedupe memory, each with the instant it was remembered at. */
    public static byte[] writeChunk(List<RememberedEvent> events) {
        int size = 1 + 4;
        for (RememberedEvent r : events) {
            size += REMEMBERED_FIXED + r.eventIdBytes().length;
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put(FORMAT_V1).putInt(events.size());
        for (RememberedEvent r : events) {
            out.putLong(r.rememberedAtMs()).putLong(r.userHigh()).putLong(r.userLow());
            out.putInt(r.eventIdBytes().length).put(r.eventIdBytes());
            out.putLong(r.occurredSecond()).putInt(r.occurredNano()).put(r.providerOrdinal()).putInt(r.statusCode());
            out.putLong(r.responseTimeMs()).putLong(r.requestBytes()).putLong(r.responseBytes()).putLong(r.tokens())
                    .putLong(r.units());
        }
        return out.array();
    }

    public static List<RememberedEvent> readChunk(byte[] bytes) {
        ByteBuffer in = versioned(bytes);
        try {
            int count = in.getInt();
            List<RememberedEvent> events = new ArrayList<>(Math.min(count, in.remaining() / REMEMBERED_FIXED));
            for (int i = 0; i < count; i++) {
                events.add(readRemembered(in));
            }
            return events;
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new SerializationException("corrupt chunk of " + bytes.length + " bytes", e);
        }
    }

    /**
     * The remembered event of {@code userHigh}, {@code userLow} and {@code id} in a chunk or block, or null; reads
     * the chunk in place and builds only the event it finds.
     */
    static RememberedEvent findInChunk(byte[] bytes, long userHigh, long userLow, byte[] id) {
        ByteBuffer in = versioned(bytes);
        try {
            int count = in.getInt();
            for (int i = 0; i < count; i++) {
                int start = in.position();
                in.position(start + 8);
                long high = in.getLong();
                long low = in.getLong();
                int idLength = in.getInt();
                if (idLength < 0 || idLength > in.remaining()) {
                    throw new IllegalArgumentException("event id of " + idLength + " bytes in " + in.remaining());
                }
                int idAt = in.position();
                if (high == userHigh && low == userLow && idLength == id.length
                        && Arrays.equals(bytes, in.arrayOffset() + idAt, in.arrayOffset() + idAt + idLength, id, 0, id.length)) {
                    in.position(start);
                    return readRemembered(in);
                }
                in.position(idAt + idLength + REMEMBERED_FIXED - (8 + 16 + 4));
            }
            return null;
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new SerializationException("corrupt chunk of " + bytes.length + " bytes", e);
        }
    }

    /** Which remembered events to decode, from their remembered instant and user alone. */
    @FunctionalInterface
    interface EntryFilter {
        boolean test(long rememberedAtMs, long userHigh, long userLow);
    }

    /** Hands the events of a chunk or block that {@code filter} accepts to {@code accepted}, decoding only those. */
    static void readChunkWhere(byte[] bytes, EntryFilter filter, Consumer<RememberedEvent> accepted) {
        ByteBuffer in = versioned(bytes);
        try {
            int count = in.getInt();
            for (int i = 0; i < count; i++) {
                int start = in.position();
                long at = in.getLong();
                long high = in.getLong();
                long low = in.getLong();
                int idLength = in.getInt();
                if (idLength < 0 || idLength > in.remaining()) {
                    throw new IllegalArgumentException("event id of " + idLength + " bytes in " + in.remaining());
                }
                if (filter.test(at, high, low)) {
                    in.position(start);
                    accepted.accept(readRemembered(in));
                } else {
                    in.position(in.position() + idLength + REMEMBERED_FIXED - (8 + 16 + 4));
                }
            }
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new SerializationException("corrupt chunk of " + bytes.length + " bytes", e);
        }
    }

    private static RememberedEvent readRemembered(ByteBuffer in) {
        long at = in.getLong();
        long high = in.getLong();
        long low = in.getLong();
        int idLength = in.getInt();
        if (idLength < 0 || idLength > in.remaining()) {
            throw new IllegalArgumentException("event id of " + idLength + " bytes in " + in.remaining());
        }
        byte[] id = new byte[idLength];
        in.get(id);
        return new RememberedEvent(high, low, id, in.getLong(), in.getInt(), in.get(), in.getInt(),
                in.getLong(), in.getLong(), in.getLong(), in.getLong(), in.getLong(), at);
    }

    /** What the dedupe memory keeps of a spilled run: its segment, events, latest remembered instant, blocks, hash parts. */
    record RunRecord(long segment, int events, long latestRememberedAtMs, int blocks, int hashParts) {
    }

    static byte[] writeRun(RunRecord run) {
        return ByteBuffer.allocate(1 + 8 + 4 + 8 + 4 + 4).put(FORMAT_V1).putLong(run.segment()).putInt(run.events())
                .putLong(run.latestRememberedAtMs()).putInt(run.blocks()).putInt(run.hashParts()).array();
    }

    static RunRecord readRun(byte[] bytes) {
        ByteBuffer in = versioned(bytes);
        try {
            return new RunRecord(in.getLong(), in.getInt(), in.getLong(), in.getInt(), in.getInt());
        } catch (BufferUnderflowException e) {
            throw new SerializationException("corrupt run of " + bytes.length + " bytes", e);
        }
    }

    static byte[] writeHashes(long[] hashes, int from, int to) {
        ByteBuffer out = ByteBuffer.allocate(1 + 4 + 8 * (to - from)).put(FORMAT_V1).putInt(to - from);
        for (int i = from; i < to; i++) {
            out.putLong(hashes[i]);
        }
        return out.array();
    }

    static long[] readHashes(byte[] bytes) {
        ByteBuffer in = versioned(bytes);
        try {
            int count = in.getInt();
            if (count < 0 || count > in.remaining() / 8) {
                throw new IllegalArgumentException(count + " hashes in " + in.remaining() + " bytes");
            }
            long[] hashes = new long[count];
            in.asLongBuffer().get(hashes);
            return hashes;
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new SerializationException("corrupt hashes of " + bytes.length + " bytes", e);
        }
    }

    public static byte[] writeLong(long value) {
        return ByteBuffer.allocate(9).put(FORMAT_V1).putLong(value).array();
    }

    public static long readLong(byte[] bytes) {
        try {
            return versioned(bytes).getLong();
        } catch (BufferUnderflowException e) {
            throw new SerializationException("corrupt number of " + bytes.length + " bytes", e);
        }
    }

    public static byte[] writeStrings(Collection<String> strings) {
        int size = 1 + 4;
        for (String s : strings) {
            size += stringSize(s);
        }
        ByteBuffer out = ByteBuffer.allocate(size);
        out.put(FORMAT_V1).putInt(strings.size());
        strings.forEach(s -> putString(out, s));
        return Arrays.copyOf(out.array(), out.position());
    }

    public static List<String> readStrings(byte[] bytes) {
        ByteBuffer in = versioned(bytes);
        try {
            int count = in.getInt();
            List<String> strings = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                strings.add(getString(in));
            }
            return strings;
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new SerializationException("corrupt strings of " + bytes.length + " bytes", e);
        }
    }

    private static ByteBuffer versioned(byte[] bytes) {
        if (bytes.length == 0 || bytes[0] != FORMAT_V1) {
            throw new SerializationException("unknown store value format " + (bytes.length == 0 ? "(empty)" : bytes[0]));
        }
        return ByteBuffer.wrap(bytes, 1, bytes.length - 1);
    }

    private interface Writer<T> {
        void write(T value, ByteBuffer out);
    }

    private interface Reader<T> {
        T read(ByteBuffer in);
    }

    private interface Size<T> {
        int of(T value);
    }

    private static <T> Serializer<T> binary(Writer<T> writer, Size<T> size) {
        return (topic, value) -> {
            if (value == null) {
                return null;
            }
            ByteBuffer out = ByteBuffer.allocate(1 + size.of(value));
            out.put(FORMAT_V1);
            writer.write(value, out);
            // The size is an upper bound (UTF-8, optional fields): return what was written.
            return out.position() == out.capacity() ? out.array() : Arrays.copyOf(out.array(), out.position());
        };
    }

    private static <T> Deserializer<T> withJsonFallback(Reader<T> reader, Deserializer<T> json) {
        return (topic, bytes) -> {
            if (bytes == null) {
                return null;
            }
            if (bytes.length > 0 && bytes[0] == JSON_OBJECT) {
                return json.deserialize(topic, bytes);
            }
            if (bytes.length == 0 || bytes[0] != FORMAT_V1) {
                throw new SerializationException("unknown store value format " + (bytes.length == 0 ? "(empty)" : bytes[0]));
            }
            try {
                return reader.read(ByteBuffer.wrap(bytes, 1, bytes.length - 1));
            } catch (BufferUnderflowException | IllegalArgumentException e) {
                throw new SerializationException("corrupt store value of " + bytes.length + " bytes", e);
            }
        };
    }

    // Monthly summary: user, month, the nine counters, first and last event (or absent), calls per provider.

    private static final int SUMMARY_SIZE = 16 + 4 + 9 * 8 + 2 * (1 + 12) + 1 + PROVIDERS.length * (1 + 8);

    private static void writeSummary(MonthlySummary s, ByteBuffer out) {
        putUuid(out, s.userId());
        out.putInt(s.month().getYear() * 12 + s.month().getMonthValue() - 1);
        out.putLong(s.calls());
        out.putLong(s.units());
        out.putLong(s.successfulCalls());
        out.putLong(s.failedCalls());
        out.putLong(s.tokens());
        out.putLong(s.requestBytes());
        out.putLong(s.responseBytes());
        out.putLong(s.responseTimeMsSum());
        out.putLong(s.responseTimeMsMax());
        putOptionalInstant(out, s.firstEventAt());
        putOptionalInstant(out, s.lastEventAt());
        out.put((byte) s.callsByProvider().size());
        s.callsByProvider().forEach((provider, calls) -> {
            out.put((byte) provider.ordinal());
            out.putLong(calls);
        });
    }

    private static MonthlySummary readSummary(ByteBuffer in) {
        UUID user = getUuid(in);
        int months = in.getInt();
        YearMonth month = YearMonth.of(Math.floorDiv(months, 12), Math.floorMod(months, 12) + 1);
        long calls = in.getLong();
        long units = in.getLong();
        long successful = in.getLong();
        long failed = in.getLong();
        long tokens = in.getLong();
        long requestBytes = in.getLong();
        long responseBytes = in.getLong();
        long responseTimeSum = in.getLong();
        long responseTimeMax = in.getLong();
        Instant first = getOptionalInstant(in);
        Instant last = getOptionalInstant(in);
        int providers = in.get();
        Map<Provider, Long> byProvider = new EnumMap<>(Provider.class);
        for (int i = 0; i < providers; i++) {
            byProvider.put(provider(in.get()), in.getLong());
        }
        return new MonthlySummary(user, month, calls, units, successful, failed, tokens, requestBytes, responseBytes,
                responseTimeSum, responseTimeMax, first, last, byProvider);
    }

    // The provider is stored by ordinal: a new provider must be added at the end of the enum.

    private static Provider provider(byte ordinal) {
        if (ordinal < 0 || ordinal >= PROVIDERS.length) {
            throw new IllegalArgumentException("unknown provider ordinal " + ordinal);
        }
        return PROVIDERS[ordinal];
    }

    private static int stringSize(String s) {
        return 4 + s.length() * 3;
    }

    private static void putString(ByteBuffer out, String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        out.putInt(bytes.length);
        out.put(bytes);
    }

    private static String getString(ByteBuffer in) {
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) {
            throw new IllegalArgumentException("string of " + length + " bytes in " + in.remaining());
        }
        String s = new String(in.array(), in.arrayOffset() + in.position(), length, StandardCharsets.UTF_8);
        in.position(in.position() + length);
        return s;
    }

    private static void putUuid(ByteBuffer out, UUID id) {
        out.putLong(id.getMostSignificantBits());
        out.putLong(id.getLeastSignificantBits());
    }

    private static UUID getUuid(ByteBuffer in) {
        return new UUID(in.getLong(), in.getLong());
    }

    private static void putInstant(ByteBuffer out, Instant at) {
        out.putLong(at.getEpochSecond());
        out.putInt(at.getNano());
    }

    private static Instant getInstant(ByteBuffer in) {
        return Instant.ofEpochSecond(in.getLong(), in.getInt());
    }

    private static void putOptionalInstant(ByteBuffer out, Instant at) {
        out.put((byte) (at == null ? 0 : 1));
        if (at != null) {
            putInstant(out, at);
        }
    }

    private static Instant getOptionalInstant(ByteBuffer in) {
        return in.get() == 0 ? null : getInstant(in);
    }
}
