package io.usagemeter.schema.reconcile;

import java.time.YearMonth;
import java.util.OptionalLong;
import java.util.UUID;

/** The enforcer's {@code used} for a user and month; empty when it cannot answer now. */
@FunctionalInterface
public interface EnforcerUsage {

    /** For a reconciliation without the enforcer (its column stays empty, nothing is compared). */
    EnforcerUsage NONE = (user, month) -> OptionalLong.empty();

    OptionalLong units(UUID user, YearMonth month);
}
