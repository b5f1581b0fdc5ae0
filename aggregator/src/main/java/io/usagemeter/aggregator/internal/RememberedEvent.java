package io.usagemeter.aggregator.internal;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
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

    private final long userHigh;
    private final long userLow;
    private final byte[] eventId;
    private final int hash;
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
        this.hash = 31 * Long.hashCode(userHigh ^ userLow) + Arrays.hashCode(eventId);
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

    public long rememberedAtMs() {
        return rememberedAtMs;
    }

    boolean isOf(UUID user) {
        return user.getMostSignificantBits() == userHigh && user.getLeastSignificantBits() == userLow;
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
        return hash;
    }

    @Override
    public String toString() {
        return "RememberedEvent[" + event() + " at " + rememberedAtMs + "]";
    }
}
