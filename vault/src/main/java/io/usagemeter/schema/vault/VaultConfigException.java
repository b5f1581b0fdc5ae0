package io.usagemeter.schema.vault;

/** The vault's keys or settings are missing or unusable; the message names the environment variable to fix. */
public final class VaultConfigException extends RuntimeException {
    public VaultConfigException(String message) {
        super(message);
    }
}
