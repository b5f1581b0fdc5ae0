package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs the secret scanner's self-test in the build, so a broken rule fails {@code mvn verify} and not
 * only the CI step: it plants every kind of credential in a throw-away git repository and checks that
 * each rule fires, that near misses pass, and that the allow-list admits exactly what it names.
 */
class SecretScanTest {

    @Test
    void everyRuleFiresAndTheAllowListWorks() throws IOException, InterruptedException {
        Path script = Path.of("..", ".ci", "secret-scan").toAbsolutePath().normalize();
        Process process = new ProcessBuilder("bash", script.toString(), "--self-test")
                .redirectErrorStream(true)
                .start();
        assertThat(process.waitFor(2, TimeUnit.MINUTES)).as("self-test finished").isTrue();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.exitValue()).as(output).isZero();
        assertThat(output).contains("rules fire, near misses pass, allow-list works");
    }
}
