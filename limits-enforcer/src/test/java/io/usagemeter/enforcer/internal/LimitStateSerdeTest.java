package io.usagemeter.enforcer.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.serde.EventSerdes;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.UUID;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class LimitStateSerdeTest {

    private static final UUID USER = UUID.fromString("0b7c2d4e-1f3a-4b5c-8d9e-0f1a2b3c4d5e");

    private static LimitState state(long used) {
        return new LimitState(USER, YearMonth.of(2026, 12), "free", 1000, 3, 0.06, 30, 1090, used,
                Math.max(1090 - used, 0), used >= 1090 ? LimitStatus.EXCEEDED : LimitStatus.OK, used < 1090, 0.0,
                Instant.parse("2027-01-01T00:00:00Z"), Instant.parse("2026-12-05T10:00:00Z"));
    }

    @Test
    void writesTheStoreFormatAndReadsBackTheSameState() {
        LimitStateSerde serde = new LimitStateSerde();
        byte[] bytes = serde.serializer().serialize("t", state(10));

        assertThat(bytes).isEqualTo(EventSerdes.limitState().serializer().serialize("t", state(10)));
        assertThat(serde.deserialize("t", bytes)).isEqualTo(state(10));
        assertThat(serde.deserialize("t", bytes.clone())).isEqualTo(state(10));
    }

    @Test
    void aChangedDocumentIsReadAsTheNewState() {
        LimitStateSerde serde = new LimitStateSerde();
        byte[] before = serde.serializer().serialize("t", state(10));
        byte[] after = serde.serializer().serialize("t", state(1090));
        assertThat(serde.deserialize("t", before).used()).isEqualTo(10);

        LimitState read = serde.deserialize("t", after);

        assertThat(read).isEqualTo(state(1090));
        assertThat(read.state()).isEqualTo(LimitStatus.EXCEEDED);
        assertThat(serde.deserialize("t", before)).isEqualTo(state(10));
    }

    @Test
    void theBytesReadAreNotSharedWithTheMemo() {
        LimitStateSerde serde = new LimitStateSerde();
        byte[] bytes = serde.serializer().serialize("t", state(10));
        serde.deserialize("t", bytes);
        byte[] changed = serde.serializer().serialize("t", state(20));
        System.arraycopy(changed, 0, bytes, 0, Math.min(bytes.length, changed.length));

        assertThat(serde.deserialize("t", serde.serializer().serialize("t", state(10)))).isEqualTo(state(10));
    }

    @Test
    void tombstonesAndBrokenDocumentsAreHandledAsTheJsonSerdeDoes() {
        LimitStateSerde serde = new LimitStateSerde();

        assertThat(serde.deserialize("t", null)).isNull();
        assertThatThrownBy(() -> serde.deserialize("t", "{\"user_id\":".getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(SerializationException.class).hasMessageContaining("LimitState");
    }
}
