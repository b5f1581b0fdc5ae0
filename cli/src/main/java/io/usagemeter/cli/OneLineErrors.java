package io.usagemeter.cli;

import io.usagemeter.schema.config.MeterEnvironment;
import picocli.CommandLine;

/**
 * Turns an exception that escapes a command into one readable line on stderr and exit code 1.
 * Stack traces only with {@code METER_DEBUG=1}: an operator wants the reason, not the frames.
 */
final class OneLineErrors implements CommandLine.IExecutionExceptionHandler {

    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        String message = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
        cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": " + message);
        if ("1".equals(MeterEnvironment.of(System.getenv()).string("METER_DEBUG", null))) {
            ex.printStackTrace(cmd.getErr());
        }
        return 1;
    }
}
