package io.usagemeter.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class AggregatorCommandTest {

    @Test
    void a_bad_setting_fails_in_one_line_naming_the_variable() {
        StringWriter err = new StringWriter();
        CommandLine cmd = Meter.commandLine(Map.of("METER_AGGREGATOR_DEDUPE_WINDOW", "48h"));
        cmd.setErr(new PrintWriter(err));

        int code = cmd.execute("aggregator");

        assertThat(code).isEqualTo(1);
        assertThat(err.toString().strip())
                .startsWith("meter aggregator: METER_AGGREGATOR_DEDUPE_WINDOW must be a positive ISO-8601 duration")
                .doesNotContain("\n");
    }

    @Test
    void help_describes_the_service() {
        StringWriter out = new StringWriter();
        CommandLine cmd = Meter.commandLine(Map.of());
        cmd.setOut(new PrintWriter(out));

        assertThat(cmd.execute("aggregator", "--help")).isZero();
        assertThat(out.toString()).contains("Run the aggregator");
    }
}
