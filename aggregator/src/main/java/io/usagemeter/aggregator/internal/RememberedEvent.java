package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.Comparator;
import java.util.UUID;

/**
 * One event in the dedupe memory: its identity (user and {@code event_id}), the fields a summary
 * counts, and when the task remembered it on its event-time clock (the high water once it was seen).
 *
 * <p>A window holds every event of the last dedupe window, so this is laid out flat: one object and
 * the id's bytes, no {@link UsageEvent}, {@link UUID} or {@link Instant} kept per event, which keeps
 * the garbage collector's work per remembered event small. Equality is the identity only, so an
 * instance is its own key in the memory's map.
 */
public final class RememberedEvent {

    private static final Provider[] PROVIDERS = Provider.values();
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long C1 = 0x87c37b91114253d5L;
    private static final long C2 = 0x4cf5ad432745937fL;

    /**
     * The order of a spilled run on disk ({@link SortedRun}): by user, then identity hash, then id, so that one
     * user's events are together (a reset reads them) and an event is found by one seek.
     */
    static final Comparator<RememberedEvent> DISK_ORDER = (a, b) -> {
        int c = Long.compareUnsigned(a.userHigh, b.userHigh);
        if (c == 0) {
            c = Long.compareUnsigned(a.userLow, b.userLow);
        }
        if (c == 0) {
            c = Long.compareUnsigned(a.identityHash, b.identityHash);
        }
        return c != 0 ? c : Arrays.compareUnsigned(a.eventId, b.eventId);
    };

    private final long userHigh;
    private final long userLow;
    private final byte[] eventId;
    private final long identityHash;
    private final long occurredSecond;
    private final int occurredNano;
    private final byte provider;
    private final int statusCode;
    private final long responseTimeMs;
    private final long requestBytes;
    private final long responseBytes;
    private final long tokens;
    private final long units;
    private final long rememberedAtMs;

    RememberedEvent(long userHigh, long userLow, byte[] eventId, long occurredSecond, int occurredNano, byte provider,
                    int statusCode, long responseTimeMs, long requestBytes, long responseBytes, long tokens, long units,
                    long rememberedAtMs) {
        this.userHigh = userHigh;
        this.userLow = userLow;
        this.eventId = eventId;
        this.identityHash = identityHash(userHigh, userLow, eventId);
        this.occurredSecond = occurredSecond;
        this.occurredNano = occurredNano;
        if (provider < 0 || provider >= PROVIDERS.length) {
            throw new IllegalArgumentException("unknown provider ordinal " + provider);
        }
        this.provider = provider;
        this.statusCode = statusCode;
        this.responseTimeMs = responseTimeMs;
        this.requestBytes = requestBytes;
        this.responseBytes = responseBytes;
        this.tokens = tokens;
        this.units = units;
        this.rememberedAtMs = rememberedAtMs;
    }

    /** {@code e} remembered at {@code rememberedAtMs}. */
    public static RememberedEvent of(UsageEvent e, long rememberedAtMs) {
        return new RememberedEvent(e.userId().getMostSignificantBits(), e.userId().getLeastSignificantBits(),
                e.eventId().getBytes(StandardCharsets.UTF_8), e.occurredAt().getEpochSecond(), e.occurredAt().getNano(),
                (byte) e.provider().ordinal(), e.statusCode(), e.responseTimeMs(), e.requestBytes(),
                e.responseBytes(), e.tokens(), e.units(), rememberedAtMs);
    }

    /** The event as a summary counts it: every field but the endpoint and method, which are empty. */
    public UsageEvent event() {
        return new UsageEvent(new String(eventId, StandardCharsets.UTF_8), new UUID(userHigh, userLow), occurredAt(),
                PROVIDERS[provider], "", "", statusCode, responseTimeMs, requestBytes, responseBytes, tokens, units);
    }

    /**
     * A 64-bit hash of the user and the event id (murmur3's mixing steps). Spilled runs store it and the
     * filters are rebuilt from it when a task starts, so it must never change without a new store format.
     */
    static long identityHash(long userHigh, long userLow, byte[] eventId) {
        long h = 0x9e3779b97f4a7c15L ^ eventId.length;
        h = step(h, userHigh);
        h = step(h, userLow);
        int i = 0;
        for (; i + 8 <= eventId.length; i += 8) {
            h = step(h, (long) LONGS.get(eventId, i));
        }
        long tail = 0;
        for (int shift = 0; i < eventId.length; i++, shift += 8) {
            tail |= (eventId[i] & 0xffL) << shift;
        }
        return finish(step(h, tail));
    }

    private static long step(long h, long k) {
        h ^= Long.rotateLeft(k * C1, 31) * C2;
        return Long.rotateLeft(h, 27) * 5 + 0x52dce729;
    }

    private static long finish(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        return h ^ (h >>> 33);
    }

    long identityHash() {
        return identityHash;
    }

    public long rememberedAtMs() {
        return rememberedAtMs;
    }

    boolean isOf(UUID user) {
        return user.getMostSignificantBits() == userHigh && user.getLeastSignificantBits() == userLow;
    }

    /** Whether this is the same user and event id as {@code userHigh}, {@code userLow} and {@code id}. */
    boolean isIdentity(long high, long low, byte[] id) {
        return high == userHigh && low == userLow && Arrays.equals(id, eventId);
    }

    Instant occurredAt() {
        return Instant.ofEpochSecond(occurredSecond, occurredNano);
    }

    /** Whether it occurred in [{@code fromSecond}, {@code untilSecond}) and strictly after {@code after}. */
    boolean occurredWithin(long fromSecond, long untilSecond, Instant after) {
        if (occurredSecond < fromSecond || occurredSecond >= untilSecond) {
            return false;
        }
        return occurredSecond > after.getEpochSecond()
                || (occurredSecond == after.getEpochSecond() && occurredNano > after.getNano());
    }

    long userHigh() {
        return userHigh;
    }

    long userLow() {
        return userLow;
    }

    byte[] eventIdBytes() {
        return eventId;
    }

    long occurredSecond() {
        return occurredSecond;
    }

    int occurredNano() {
        return occurredNano;
    }

    byte providerOrdinal() {
        return provider;
    }

    int statusCode() {
        return statusCode;
    }

    long responseTimeMs() {
        return responseTimeMs;
    }

    long requestBytes() {
        return requestBytes;
    }

    long responseBytes() {
        return responseBytes;
    }

    long tokens() {
        return tokens;
    }

    long units() {
        return units;
    }

    /** The same user and event id. */
    @Override
    public boolean equals(Object o) {
        return o instanceof RememberedEvent r && r.userHigh == userHigh && r.userLow == userLow
                && Arrays.equals(r.eventId, eventId);
    }

    @Override
    public int hashCode() {
        return (int) (identityHash ^ (identityHash >>> 32));
    }

    @Override
    public String toString() {
        return "RememberedEvent[" + event() + " at " + rememberedAtMs + "]";
    }
}
