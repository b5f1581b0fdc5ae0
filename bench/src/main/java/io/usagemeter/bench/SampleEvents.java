package io.usagemeter.bench;

import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.time.Instant;
import java.util.UUID;

/** The benchmarks' usage events: ~340 bytes of JSON, 10,000 users, 1 in 17 answered 429. */
final class SampleEvents {

    static final int USERS = 10_000;

    private final String run;
    private final Instant base;
    private final UUID[] users = new UUID[USERS];

    SampleEvents(String run, Instant base) {
        this.run = run;
        this.base = base;
        for (int i = 0; i < USERS; i++) {
            users[i] = new UUID(0x5eed_0000_0000_0000L, i);
        }
    }

    UUID user(int i) {
        return users[i % USERS];
    }

    UsageEvent event(int i) {
        return new UsageEvent(run + "-" + i, users[i % USERS], base.plusMillis(i % 500_000), Provider.values()[i % 5],
                "/v1/projects/" + (i % 97) + "/models/gpt-4o-mini/chat/completions?stream=false", "POST",
                i % 17 == 0 ? 429 : 200, 40 + i % 900, 700 + i % 3000, 1500 + i % 20_000, i % 4000, 1 + i % 3);
    }
}
