package io.usagemeter.enforcer.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.usagemeter.enforcer.client.LimitAnswer;
import io.usagemeter.schema.events.LimitStatus;
import io.usagemeter.schema.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.YearMonth;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class ServedLimitTest {

    private static final LimitAnswer ANSWER = new LimitAnswer(UUID.fromString("6f1c1f8e-3c1a-4a57-9d0e-0b6d1c2f3a4b"),
            YearMonth.of(2026, 12), "free", 1000, 3, 0.06, 30, 1090, 900, 190, LimitStatus.WARNING, true,
            Instant.parse("2027-01-01T00:00:00Z"), Instant.parse("2026-12-05T10:00:00Z"), false);

    @Test
    void servesTheJsonTheMapperWritesForTheAnswer() throws Exception {
        ServedLimit served = new ServedLimit(ANSWER);

        assertThat(new String(served.json(), StandardCharsets.UTF_8)).isEqualTo(Json.write(ANSWER));
        assertThat(Json.read(new String(served.json(), StandardCharsets.UTF_8), LimitAnswer.class)).isEqualTo(ANSWER);
    }

    @Test
    void theStaleTwinDiffersOnlyInStaleAndIsWrittenOnce() throws Exception {
        ServedLimit served = new ServedLimit(ANSWER);

        ServedLimit stale = served.stale();

        assertThat(stale.answer()).isEqualTo(ANSWER.withStale(true));
        assertThat(stale.answer().stale()).isTrue();
        assertThat(Json.tree(stale.json()).get("stale").booleanValue()).isTrue();
        ObjectNode staleFields = (ObjectNode) Json.tree(stale.json());
        ObjectNode freshFields = (ObjectNode) Json.tree(served.json());
        staleFields.remove("stale");
        freshFields.remove("stale");
        assertThat((Object) staleFields).isEqualTo(freshFields);
        assertThat(served.stale()).isSameAs(stale);
        assertThat(stale.stale()).isSameAs(stale);
        assertThat(served.answer().stale()).isFalse();
    }

    @Test
    void withStaleChangesNothingElse() {
        LimitAnswer stale = ANSWER.withStale(true);

        assertThat(stale).isNotEqualTo(ANSWER);
        assertThat(stale.withStale(false)).isEqualTo(ANSWER);
        assertThat(ANSWER.withStale(false)).isSameAs(ANSWER);
    }
}
