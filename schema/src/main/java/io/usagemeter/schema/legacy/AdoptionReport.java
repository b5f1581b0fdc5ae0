package io.usagemeter.schema.legacy;

import java.util.List;

/**
 * What {@link LegacyAdoption#adopt} did.
 *
 * @param legacySchema the schema that now holds the older system's objects and rows, unchanged
 * @param schemaVersion the Flyway version of {@code public} after the adoption
 * @param migrationsApplied how many migrations Flyway applied to the new {@code public}
 * @param tables per table: legacy rows and rows copied into the new table, in copy order
 */
public record AdoptionReport(String legacySchema, String schemaVersion, int migrationsApplied, List<TableCopy> tables) {

    public AdoptionReport {
        tables = List.copyOf(tables);
    }

    /** Rows of one legacy table and how many of them became rows of the new table. */
    public record TableCopy(String table, String legacyTable, long legacyRows, long copiedRows) {
    }
}
