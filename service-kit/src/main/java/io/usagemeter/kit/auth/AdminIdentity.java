package io.usagemeter.kit.auth;

import io.usagemeter.kit.Caller;

/** An admin proven by a valid token: the e-mail claim (listed in {@code METER_ADMIN_EMAILS}) and the subject. */
public record AdminIdentity(String email, String subject) implements Caller {
}
