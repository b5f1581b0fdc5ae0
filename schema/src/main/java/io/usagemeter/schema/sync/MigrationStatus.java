package io.usagemeter.schema.sync;

/**
 * One migration as seen in one environment: its version, description, what state it is in,
 * and the checksum recorded when it was applied (null when not applied).
 */
public record MigrationStatus(String version, String description, State state, Integer appliedChecksum) {

    public enum State {
        APPLIED("applied", false),
        PENDING("pending", false),
        FAILED("failed", true),
        EDITED_AFTER_APPLY("checksum mismatch (edited after apply)", true),
        MISSING_FILE("missing file (applied, not in the migrations)", true),
        NOT_APPLICABLE("not applied (older than the latest applied migration)", true),
        OTHER("other", false);

        private final String label;
        private final boolean problem;

        State(String label, boolean problem) {
            this.label = label;
            this.problem = problem;
        }

        public String label() {
            return label;
        }

        /** Whether this state makes {@code validate} and {@code status} fail. */
        public boolean isProblem() {
            return problem;
        }
    }

    public boolean isApplied() {
        return appliedChecksum != null || state == State.APPLIED || state == State.EDITED_AFTER_APPLY
                || state == State.MISSING_FILE || state == State.FAILED;
    }

    /** {@code V3 add sessions} */
    public String displayName() {
        return "V" + version + " " + description;
    }
}
