package io.usagemeter.cli.dev;

import io.usagemeter.schema.vault.TokenKeyset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The dev stack's token vault keyset (which seals webhook secrets): a file in the data directory,
 * created on first use and kept, so secrets sealed in one run open in the next. A keyset given in
 * {@code METER_TOKEN_KEYSET} is used as it is.
 */
final class DevTokenKeyset {

    private DevTokenKeyset() {
    }

    static Path file(Path dataDir) {
        return dataDir.resolve("token-keyset.json");
    }

    /** Creates the file {@code METER_TOKEN_KEYSET} names when it is missing; returns {@code env} unchanged. */
    static synchronized Map<String, String> ensure(Map<String, String> env) {
        String value = env.get(TokenKeyset.VARIABLE);
        if (value != null && !value.strip().startsWith("{")) {
            Path file = Path.of(value.strip());
            if (!Files.exists(file)) {
                DevDataDir.writeOwnerOnly(file, TokenKeyset.generate().toJson());
            }
        }
        return env;
    }
}
