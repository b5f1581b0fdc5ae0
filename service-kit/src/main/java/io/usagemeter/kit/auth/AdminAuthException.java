package io.usagemeter.kit.auth;

/** An admin request refused: 401 when the token is missing or invalid, 403 when it is valid but not an admin's. */
public final class AdminAuthException extends RuntimeException {

    private final int status;

    AdminAuthException(int status, String message) {
        super(message, null, false, false);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
