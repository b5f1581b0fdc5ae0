package io.usagemeter.enforcer;

import static org.assertj.core.api.Assertions.assertThat;

import io.usagemeter.enforcer.http.RequestParams;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The path's user id is a UUID in canonical form only (what the former regex accepted, nothing more). */
class UserIdTextTest {

    @Test
    void acceptsCanonicalUuidsInEitherCase() {
        UUID id = UUID.randomUUID();
        assertThat(RequestParams.isUuidText(id.toString())).isTrue();
        assertThat(RequestParams.isUuidText(id.toString().toUpperCase(java.util.Locale.ROOT))).isTrue();
        assertThat(RequestParams.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90ae7")).isTrue();
    }

    @Test
    void refusesWhatUuidFromStringWouldStretch() {
        assertThat(RequestParams.isUuidText("1-2-3-4-5")).isFalse();
        assertThat(RequestParams.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90ae")).isFalse();
        assertThat(RequestParams.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90ae77")).isFalse();
        assertThat(RequestParams.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90aeg")).isFalse();
        assertThat(RequestParams.isUuidText("7c9e667947425-40de-944b-e07fc1f90ae7")).isFalse();
        assertThat(RequestParams.isUuidText("7c9e6679-7425-40de-944b-e07fc1f90a-7")).isFalse();
        assertThat(RequestParams.isUuidText("not-a-uuid")).isFalse();
        assertThat(RequestParams.isUuidText("")).isFalse();
    }
}
