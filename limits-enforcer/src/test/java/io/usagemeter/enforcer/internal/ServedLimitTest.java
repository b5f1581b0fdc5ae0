package io.usagemeter.enforcer.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.events.LimitState;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ServedLimitTest {

    private static final UUID USER = UUID.fromString("6f1c1f8e-3c1a-4a57-9d0e-0b6d1c2f3a4b");
    private static final LimitState STATE = new LimitState(USER, YearMonth.of(2026, 12), "free", 1000, 3, 0.06, 30,
            1090, 900, 190, LimitStatus.WARNING, true, 0.1, Instant.parse("2027-01-01T00:00:00Z"),
            Instant.parse("2026-12-05T10:00:00Z"));
    /** The published answer of {@link #STATE}, field by field. */
    private static final LimitAnswer ANSWER = new LimitAnswer(USER, YearMonth.of(2026, 12), "free", 1000, 3, 0.06, 30,
            1090, 900, 190, LimitStatus.WARNING, true, Instant.parse("2027-01-01T00:00:00Z"),
            Instant.parse("2026-12-05T10:00:00Z"), false);

    @Test
    void servesTheJsonTheMapperWritesForThePublishedAnswer() throws Exception {
        ServedLimit served = new ServedLimit(STATE);

        assertThat(new String(served.json(), StandardCharsets.UTF_8)).isEqualTo(Json.write(ANSWER));
        assertThat(Json.read(new String(served.json(), StandardCharsets.UTF_8), LimitAnswer.class)).isEqualTo(ANSWER);
        assertThat(served.answer()).isEqualTo(ANSWER);
        assertThat(Json.tree(served.json()).has("grace")).isFalse();
        assertThat(served.limit()).isSameAs(STATE);
        assertThat(served.isStale()).isFalse();
    }

    @Test
    void theStaleTwinSharesTheStateDiffersOnlyInStaleAndIsWrittenOnce() throws Exception {
        ServedLimit served = new ServedLimit(STATE);

        ServedLimit stale = served.stale();

        assertThat(stale.isStale()).isTrue();
        assertThat(stale.limit()).isSameAs(STATE);
        assertThat(new String(stale.json(), StandardCharsets.UTF_8)).isEqualTo(Json.write(new LimitAnswer(USER,
                YearMonth.of(2026, 12), "free", 1000, 3, 0.06, 30, 1090, 900, 190, LimitStatus.WARNING, true,
                Instant.parse("2027-01-01T00:00:00Z"), Instant.parse("2026-12-05T10:00:00Z"), true)));
        ObjectNode staleFields = (ObjectNode) Json.tree(stale.json());
        ObjectNode freshFields = (ObjectNode) Json.tree(served.json());
        assertThat(staleFields.get("stale").booleanValue()).isTrue();
        staleFields.remove("stale");
        freshFields.remove("stale");
        assertThat((Object) staleFields).isEqualTo(freshFields);
        assertThat(served.stale()).isSameAs(stale);
        assertThat(stale.stale()).isSameAs(stale);
        assertThat(served.isStale()).isFalse();
    }
}
