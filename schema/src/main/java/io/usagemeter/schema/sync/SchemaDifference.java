package io.usagemeter.schema.sync;

/**
 * One way two databases differ, as a readable line, e.g.
 * {@code prod has column users.nickname text (not in dev)}.
 *
 * @param objectKind table, column, constraint, index, function, trigger, view or partition
 * @param objectName the object's name, table-qualified where that helps
 * @param line the whole sentence to print
 */
public record SchemaDifference(String objectKind, String objectName, String line) {

    @Override
    public String toString() {
        return line;
    }
}
