package io.usagemeter.kit.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.usagemeter.embedded.TestStack;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.postgresql.ds.PGSimpleDataSource;

/** API keys in a real PostgreSQL (migration V6) and the TTL cache in front of them. */
class ApiKeyStoreTest {

    private static TestStack postgres;
    private static PGSimpleDataSource dataSource;
    private static ApiKeyStore store;

    @BeforeAll
    static void start() {
        postgres = TestStack.withSharedBroker();
        String url = postgres.jdbcUrl("keys");
        Flyway.configure().dataSource(url, postgres.user(), postgres.password())
                .locations("classpath:db/migration").load().migrate();
        dataSource = new PGSimpleDataSource();
        dataSource.setUrl(url);
        dataSource.setUser(postgres.user());
        dataSource.setPassword(postgres.password());
        store = new ApiKeyStore(dataSource, Clock.systemUTC());
    }

    @AfterAll
    static void stop() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Test
    void onlyTheHashIsStoredAndTheSecretFindsTheKey() throws Exception {
        IssuedApiKey issued = store.issue("billing-app", List.of(ApiKeyScopes.EVENTS_WRITE));

        assertThat(issued.secret()).startsWith(ApiKeySecrets.MARKER).hasSizeGreaterThan(40);
        assertThat(issued.toString()).doesNotContain(issued.secret());
        assertThat(issued.key().prefix()).isEqualTo(issued.secret().substring(0, ApiKeySecrets.PREFIX_LENGTH));
        try (var c = dataSource.getConnection();
             var st = c.prepareStatement("SELECT key_hash, scopes FROM api_keys WHERE id = ?")) {
            st.setLong(1, issued.key().id());
            var rs = st.executeQuery();
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo(ApiKeySecrets.hash(issued.secret())).doesNotContain(issued.secret());
            assertThat((String[]) rs.getArray(2).getArray()).containsExactly(ApiKeyScopes.EVENTS_WRITE);
        }
        assertThat(store.findBySecret(issued.secret())).get().satisfies(k -> {
            assertThat(k.name()).isEqualTo("billing-app");
            assertThat(k.allows(ApiKeyScopes.EVENTS_WRITE)).isTrue();
            assertThat(k.allows(ApiKeyScopes.REFERRALS_WRITE)).isFalse();
        });
        assertThat(store.findBySecret(issued.secret() + "x")).isEmpty();
    }

    @Test
    void everySecretIsDifferent() {
        assertThat(Set.of(ApiKeySecrets.generate(), ApiKeySecrets.generate(), ApiKeySecrets.generate())).hasSize(3);
    }

    @Test
    void unknownScopesAndEmptyNamesAreRefused() {
        assertThatThrownBy(() -> store.issue("x", List.of("events:read"))).hasMessageContaining("unknown scope");
        assertThatThrownBy(() -> store.issue(" ", List.of(ApiKeyScopes.EVENTS_WRITE))).hasMessageContaining("name");
        assertThatThrownBy(() -> store.issue("x", List.of())).hasMessageContaining("at least one scope");
    }

    @Test
    void aRevokedKeyStopsAuthenticatingWithinTheCacheTtl() {
        IssuedApiKey issued = store.issue("to-revoke", List.of(ApiKeyScopes.EVENTS_WRITE));
        MutableClock clock = new MutableClock(Instant.parse("2025-03-01T00:00:00Z"));
        AtomicInteger lookups = new AtomicInteger();
        ApiKeyAuthenticator auth = new ApiKeyAuthenticator(secret -> {
            lookups.incrementAndGet();
            return store.findBySecret(secret);
        }, Duration.ofSeconds(30), clock);

        assertThat(auth.authenticate(issued.secret())).isPresent();
        assertThat(store.revoke(issued.key().prefix())).get().extracting(ApiKey::active).isEqualTo(false);
        clock.advance(Duration.ofSeconds(29));
        assertThat(auth.authenticate(issued.secret())).as("still cached").isPresent();
        assertThat(lookups).hasValue(1);
        clock.advance(Duration.ofSeconds(1));
        assertThat(auth.authenticate(issued.secret())).as("cache expired, revocation seen").isEmpty();
        assertThat(store.revoke(issued.key().prefix())).as("already revoked").isEmpty();
    }

    @Test
    void whileTheStoreIsDownAKnownKeyKeepsItsLastAnswerAndOnlyOneRequestAWhileAsksTheStore() {
        IssuedApiKey issued = store.issue("through-an-outage", List.of(ApiKeyScopes.LIMITS_READ));
        PGSimpleDataSource moving = new PGSimpleDataSource();
        moving.setUrl(dataSource.getUrl());
        moving.setUser(postgres.user());
        moving.setPassword(postgres.password());
        int[] reachablePort = moving.getPortNumbers();
        ApiKeyStore reachable = new ApiKeyStore(moving, Clock.systemUTC());
        MutableClock clock = new MutableClock(Instant.parse("2025-03-01T00:00:00Z"));
        AtomicInteger lookups = new AtomicInteger();
        ApiKeyAuthenticator auth = new ApiKeyAuthenticator(secret -> {
            lookups.incrementAndGet();
            return reachable.findBySecret(secret);
        }, Duration.ofSeconds(30), clock, Runnable::run);
        assertThat(auth.authenticate(issued.secret())).isPresent();

        moving.setPortNumbers(new int[] {closedPort()});
        clock.advance(Duration.ofSeconds(31));
        assertThat(auth.authenticate(issued.secret())).as("store down, TTL over: the last answer").isPresent();
        assertThat(lookups).hasValue(2);
        assertThat(auth.authenticate(issued.secret())).isPresent();
        assertThat(lookups).as("the store is not asked again at once").hasValue(2);
        String neverSeen = store.issue("first-seen-during-the-outage", List.of(ApiKeyScopes.LIMITS_READ)).secret();
        assertThatThrownBy(() -> auth.authenticate(neverSeen)).as("nothing to fall back on: refused at once")
                .isInstanceOf(org.jooq.exception.DataAccessException.class);
        assertThat(lookups).hasValue(2);
        clock.advance(ApiKeyAuthenticator.RETRY_AFTER_FAILURE);
        assertThat(auth.authenticate(issued.secret())).isPresent();
        assertThat(lookups).as("asked again (in the background) once the retry interval is over").hasValue(3);

        clock.advance(ApiKeyAuthenticator.OUTAGE_GRACE);
        assertThatThrownBy(() -> auth.authenticate(issued.secret())).as("past the grace, the outage shows")
                .isInstanceOf(org.jooq.exception.DataAccessException.class);
        assertThat(lookups).hasValue(4);

        moving.setPortNumbers(reachablePort);
        assertThat(store.revoke(issued.key().prefix())).isPresent();
        clock.advance(ApiKeyAuthenticator.RETRY_AFTER_FAILURE);
        assertThat(auth.authenticate(issued.secret())).as("store back: the revocation is seen").isEmpty();
        assertThat(auth.authenticate(neverSeen)).as("and new keys work").isPresent();
    }

    private static int closedPort() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void unknownKeysAreCachedTooSoAFloodDoesNotReachTheDatabase() {
        MutableClock clock = new MutableClock(Instant.parse("2025-03-01T00:00:00Z"));
        AtomicInteger lookups = new AtomicInteger();
        ApiKeyAuthenticator auth = new ApiKeyAuthenticator(secret -> {
            lookups.incrementAndGet();
            return store.findBySecret(secret);
        }, Duration.ofSeconds(30), clock);
        String unknown = ApiKeySecrets.generate();
        for (int i = 0; i < 5; i++) {
            assertThat(auth.authenticate(unknown)).isEmpty();
        }
        assertThat(lookups).hasValue(1);
        clock.advance(Duration.ofSeconds(30));
        assertThat(auth.authenticate(unknown)).isEmpty();
        assertThat(lookups).as("remembered for the TTL only").hasValue(2);
    }

    @Test
    void aMalformedKeyIsRefusedWithoutALookup() {
        AtomicInteger lookups = new AtomicInteger();
        ApiKeyAuthenticator auth = new ApiKeyAuthenticator(secret -> {
            lookups.incrementAndGet();
            return store.findBySecret(secret);
        }, Duration.ofSeconds(30), Clock.systemUTC());
        String valid = ApiKeySecrets.generate();
        for (String malformed : new String[] {null, "", "um_guess", valid.substring(1), valid + "A",
                "xx_" + valid.substring(3), valid.substring(0, 20) + "*" + valid.substring(21), "Bearer " + valid}) {
            assertThat(auth.authenticate(malformed)).as(String.valueOf(malformed)).isEmpty();
            assertThat(ApiKeySecrets.wellFormed(malformed)).isFalse();
        }
        assertThat(lookups).hasValue(0);
        assertThat(ApiKeySecrets.wellFormed(valid)).isTrue();
    }

    @Test
    void aFloodOfUnknownKeysNeverEvictsAValidOne() {
        IssuedApiKey issued = store.issue("busy-app", List.of(ApiKeyScopes.EVENTS_WRITE));
        AtomicInteger validLookups = new AtomicInteger();
        ApiKeyAuthenticator auth = new ApiKeyAuthenticator(secret -> {
            if (secret.equals(issued.secret())) {
                validLookups.incrementAndGet();
                return store.findBySecret(secret);
            }
            return java.util.Optional.empty();
        }, Duration.ofMinutes(5), Clock.systemUTC());
        assertThat(auth.authenticate(issued.secret())).isPresent();
        for (int i = 0; i < ApiKeyAuthenticator.MAX_UNKNOWN * 2 + 10; i++) {
            auth.authenticate(ApiKeySecrets.generate());
        }
        assertThat(auth.authenticate(issued.secret())).isPresent();
        assertThat(validLookups).as("the valid key stayed cached through the flood").hasValue(1);
    }

    @Test
    void revokeByIdWorksAndUnknownIdsChangeNothing() {
        IssuedApiKey issued = store.issue("by-id", List.of(ApiKeyScopes.REFERRALS_WRITE));
        assertThat(store.revoke("999999")).isEmpty();
        assertThat(store.revoke(Long.toString(issued.key().id()))).get().extracting(ApiKey::name).isEqualTo("by-id");
        assertThat(store.findBySecret(issued.secret())).get().extracting(ApiKey::active).isEqualTo(false);
    }

    static final class MutableClock extends Clock {
        private final AtomicReference<Instant> now;

        MutableClock(Instant start) {
            this.now = new AtomicReference<>(start);
        }

        void advance(Duration d) {
            now.updateAndGet(t -> t.plus(d));
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now.get();
        }
    }
}
