package io.usagemeter.bench;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Instant;
import java.util.UUID;

/**
 * The event mix every phase of {@link BenchSuite} sends, so the baseline and the pipeline see the same
 * calls: ~340-byte events over {@value #USERS} users, five providers, every 17th call refused (429), one to
 * three units. The same shape as {@link IngestBench}'s events (kept separate so that class stays as it is).
 */
final class UsageMix {

    static final int USERS = 10_000;

    private final UUID[] users = new UUID[USERS];
    private final Instant base = Instant.now().minusSeconds(600);
    private final String run = UUID.randomUUID().toString().substring(0, 8);

    UsageMix() {
        for (int i = 0; i < USERS; i++) {
            users[i] = new UUID(0x5eed_0000_0000_0000L, i);
        }
    }

    UUID user(int i) {
        return users[Math.floorMod(i, USERS)];
    }

    /** The {@code i}-th call of this run: its id is unique within the run. */
    UsageEvent event(int i) {
        return event(i, user(i), base.plusMillis(i % 500_000));
    }

    /** The {@code i}-th call's shape, for another user and time (freshness samples). */
    UsageEvent event(int i, UUID user, Instant occurredAt) {
        return new UsageEvent(run + "-" + i, user, occurredAt, Provider.values()[i % 5],
                "/v1/projects/" + (i % 97) + "/models/gpt-4o-mini/chat/completions?stream=false", "POST",
                i % 17 == 0 ? 429 : 200, 40 + i % 900, 700 + i % 3000, 1500 + i % 20_000, i % 4000, 1 + i % 3);
    }
}
