package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The path's user id is a UUID in canonical form only (what the former regex accepted, nothing more). */
class UserIdTextTest {

    @Test
    void acceptsCanonicalUuidsInEitherCase() {
        UUID id = UUID.randomUUID();
        assertThat(EnforcerService.isUuidText(id.toString())).isTrue();
        assertThat(EnforcerService.isUuidText(id.toString().toUpperCase(java.util.Locale.ROOT))).isTrue();
        assertThat(EnforcerService.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90ae7")).isTrue();
    }

    @Test
    void refusesWhatUuidFromStringWouldStretch() {
        assertThat(EnforcerService.isUuidText("1-2-3-4-5")).isFalse();
        assertThat(EnforcerService.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90ae")).isFalse();
        assertThat(EnforcerService.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90ae77")).isFalse();
        assertThat(EnforcerService.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90aeg")).isFalse();
        assertThat(EnforcerService.isUuidText("7c9e667947425-40de-944b-e07fc1f90ae7")).isFalse();
        assertThat(EnforcerService.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90a-7")).isFalse();
        assertThat(EnforcerService.isUuidText("not-a-uuid")).isFalse();
        assertThat(EnforcerService.isUuidText("")).isFalse();
    }
}
