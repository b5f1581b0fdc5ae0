package io.usagemeter.schema.sync;

import java.util.List;

/**
 * What {@code sync} did to one environment: the migrations it applied, and whether it
 * succeeded, failed (with a one-line reason) or was not attempted.
 */
public record SyncOutcome(DatabaseEnvironment environment, Result result, List<MigrationStatus> applied,
                          String reason) {

    public enum Result { APPLIED, UP_TO_DATE, FAILED, NOT_ATTEMPTED }

    public SyncOutcome {
        applied = List.copyOf(applied);
    }

    public boolean failed() {
        return result == Result.FAILED || result == Result.NOT_ATTEMPTED;
    }
}
