package io.usagemeter.cli.dev;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.Properties;

/**
 * The dev stack's generated secrets, kept in {@code secrets.properties} (mode 600) in the data
 * directory so that a restart on the same data gives the same passwords, key and token.
 *
 * @param postgresSuperuserPassword the embedded server's {@code postgres} role (never leaves this file)
 * @param meterPassword the {@code meter} role that owns {@code meter_dev} and {@code meter_prod}
 * @param adminJwtSecret the HS256 key that signs admin tokens (256 random bits, hex)
 * @param adminToken the signed admin JWT, empty until issued
 * @param apiKey the local ingest API key, empty until issued
 */
public record DevSecrets(String postgresSuperuserPassword, String meterPassword, String adminJwtSecret,
                         String adminToken, String apiKey) {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /** Reads the secrets of this data directory, generating (and saving) the missing ones. */
    public static DevSecrets loadOrCreate(Path file) {
        Properties props = new Properties();
        if (Files.exists(file)) {
            try {
                props.load(new StringReader(Files.readString(file, StandardCharsets.UTF_8)));
            } catch (IOException e) {
                throw new DevStackException("cannot read " + file + ": " + e.getMessage() + " (--fresh starts over)", e);
            }
        }
        DevSecrets secrets = new DevSecrets(
                Optional.ofNullable(props.getProperty("postgres.superuser.password")).orElseGet(() -> alphanumeric(32)),
                Optional.ofNullable(props.getProperty("postgres.meter.password")).orElseGet(() -> alphanumeric(32)),
                Optional.ofNullable(props.getProperty("admin.jwt.secret")).orElseGet(DevSecrets::hex256),
                props.getProperty("admin.token", ""),
                props.getProperty("ingest.api.key", ""));
        secrets.save(file);
        return secrets;
    }

    public DevSecrets withAdminToken(String token) {
        return new DevSecrets(postgresSuperuserPassword, meterPassword, adminJwtSecret, token, apiKey);
    }

    public DevSecrets withApiKey(String key) {
        return new DevSecrets(postgresSuperuserPassword, meterPassword, adminJwtSecret, adminToken, key);
    }

    public void save(Path file) {
        Properties props = new Properties();
        props.setProperty("postgres.superuser.password", postgresSuperuserPassword);
        props.setProperty("postgres.meter.password", meterPassword);
        props.setProperty("admin.jwt.secret", adminJwtSecret);
        props.setProperty("admin.token", adminToken);
        props.setProperty("ingest.api.key", apiKey);
        StringWriter text = new StringWriter();
        try {
            props.store(text, "meter dev: generated secrets of this data directory; never commit, --fresh replaces them");
        } catch (IOException e) {
            throw new IllegalStateException("a StringWriter does not fail", e);
        }
        DevDataDir.writeOwnerOnly(file, text.toString());
    }

    @Override
    public String toString() {
        return "DevSecrets[****]";
    }

    static String alphanumeric(int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(ALPHANUMERIC.charAt(RANDOM.nextInt(ALPHANUMERIC.length())));
        }
        return sb.toString();
    }

    private static String hex256() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return java.util.HexFormat.of().formatHex(bytes);
    }
}
