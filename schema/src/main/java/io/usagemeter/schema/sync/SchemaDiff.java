package io.usagemeter.schema.sync;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jooq.DSLContext;
import org.jooq.DataType;
import org.jooq.Field;
import org.jooq.Meta;
import org.jooq.Query;
import org.jooq.SQLDialect;
import org.jooq.Table;
import org.jooq.TableOptions;
import org.jooq.conf.RenderQuotedNames;
import org.jooq.conf.Settings;
import org.jooq.exception.DataAccessException;
import org.jooq.impl.DSL;
import org.jooq.impl.QOM;

/**
 * Compares the live catalogs of two environments.
 *
 * <p>Tables, columns (type, default, nullability), primary, unique and foreign keys and indexes
 * are compared by jOOQ: {@code left.meta().migrateTo(right.meta())} yields the DDL that would
 * turn left into right, and each statement is read back as one difference. What jOOQ's
 * {@code Meta} does not describe (functions, triggers, views, partitions, check constraints)
 * is compared by definition text from pg_catalog ({@link CatalogSnapshot}).
 * {@code flyway_schema_history} is never compared: it differs by design (install times).
 */
public final class SchemaDiff {

    public static final String HISTORY_TABLE = "flyway_schema_history";

    static {
        // jOOQ's banner and tips are noise in a command-line tool.
        System.setProperty("org.jooq.no-logo", "true");
        System.setProperty("org.jooq.no-tips", "true");
    }

    private static final Pattern ADD_CONSTRAINT = Pattern.compile("alter table (\\S+) add constraint (\\S+) (.+)", Pattern.DOTALL);
    private static final Pattern DROP_CONSTRAINT = Pattern.compile("alter table (\\S+) drop constraint (\\S+).*", Pattern.DOTALL);
    private static final Pattern ADD_COLUMN = Pattern.compile("alter table (\\S+) add (\\S+) (.+)", Pattern.DOTALL);
    private static final Pattern DROP_COLUMN = Pattern.compile("alter table (\\S+) drop (?:column )?(\\S+).*", Pattern.DOTALL);
    private static final Pattern ALTER_COLUMN = Pattern.compile("alter table (\\S+) alter (?:column )?(\\S+) .+", Pattern.DOTALL);
    private static final Pattern SEQUENCE = Pattern.compile("(create|drop) sequence (?:if (?:not )?exists )?(\\S+).*", Pattern.DOTALL);

    private static final DSLContext RENDER = DSL.using(SQLDialect.POSTGRES);

    private final List<String> schemas;

    /** Compares the given schemas (usually just {@code public}). */
    public SchemaDiff(List<String> schemas) {
        this.schemas = List.copyOf(schemas);
    }

    /** Every difference between {@code left} and {@code right}; empty when they match. */
    public List<SchemaDifference> compare(DatabaseEnvironment left, DatabaseEnvironment right) {
        try (Connection l = DatabaseConnector.connect(left); Connection r = DatabaseConnector.connect(right)) {
            CatalogSnapshot leftCatalog = CatalogSnapshot.read(l, schemas);
            CatalogSnapshot rightCatalog = CatalogSnapshot.read(r, schemas);
            List<SchemaDifference> differences = new ArrayList<>();
            differences.addAll(compareTables(left.name(), meta(l, leftCatalog), right.name(), meta(r, rightCatalog)));
            differences.addAll(compareCatalogs(left.name(), leftCatalog, right.name(), rightCatalog));
            return differences;
        } catch (SQLException | DataAccessException e) {
            throw new SchemaToolException("diff " + left.name() + " vs " + right.name() + ": "
                    + new CredentialMask(List.of(left, right)).scrub(DatabaseConnector.firstLine(e.getMessage())));
        }
    }

    private Meta meta(Connection connection, CatalogSnapshot catalog) {
        Set<String> notTables = CatalogSnapshot.relationsNotComparedAsTables(catalog);
        return DSL.using(connection, SQLDialect.POSTGRES).meta()
                .filterSchemas(s -> schemas.contains(s.getName()))
                .filterTables(t -> !t.getName().equals(HISTORY_TABLE)
                        && !notTables.contains(t.getName())
                        && t.getTableType() != TableOptions.TableType.VIEW
                        && t.getTableType() != TableOptions.TableType.MATERIALIZED_VIEW)
                .filterIndexes(i -> i.getTable() == null || !i.getTable().getName().equals(HISTORY_TABLE));
    }

    /**
     * Reads each statement of {@code left.migrateTo(right)} back as a difference. jOOQ 3.19's
     * query object model exposes CREATE/DROP TABLE and INDEX but not ALTER TABLE, so ALTER
     * statements are read from their rendered SQL (names unquoted, without schema); anything
     * not recognised is still reported, with the statement itself.
     */
    private static List<SchemaDifference> compareTables(String leftName, Meta left, String rightName, Meta right) {
        DSLContext render = DSL.using(SQLDialect.POSTGRES, new Settings()
                .withRenderQuotedNames(RenderQuotedNames.NEVER)
                .withRenderSchema(false));
        Map<String, SchemaDifference> byObject = new LinkedHashMap<>();
        Set<String> indexesAdded = new TreeSet<>();
        Set<String> indexesDropped = new TreeSet<>();
        Set<String> tablesAdded = new TreeSet<>();
        Set<String> tablesDropped = new TreeSet<>();
        for (Query query : left.migrateTo(right).queries()) {
            if (query instanceof QOM.CreateTable create) {
                tablesAdded.add(create.$table().getName());
            } else if (query instanceof QOM.DropTable drop) {
                tablesDropped.add(drop.$table().getName());
            } else if (query instanceof QOM.CreateIndex create) {
                indexesAdded.add(create.$index().getName());
            } else if (query instanceof QOM.DropIndex drop) {
                indexesDropped.add(drop.$index().getName());
            } else {
                SchemaDifference d = readAlter(render.render(query).trim(), leftName, left, rightName, right);
                byObject.putIfAbsent(d.objectKind() + " " + d.objectName(), d);
            }
        }
        List<SchemaDifference> result = new ArrayList<>();
        presence(result, "table", tablesAdded, tablesDropped, leftName, rightName);
        result.addAll(byObject.values());
        presence(result, "index", indexesAdded, indexesDropped, leftName, rightName);
        return result;
    }

    private static void presence(List<SchemaDifference> result, String kind, Set<String> added, Set<String> dropped,
                                 String leftName, String rightName) {
        for (String name : added) {
            result.add(dropped.contains(name)
                    ? new SchemaDifference(kind, name, kind + " " + name + " differs")
                    : new SchemaDifference(kind, name, kind + " " + name + " missing in " + leftName));
        }
        for (String name : dropped) {
            if (!added.contains(name)) {
                result.add(new SchemaDifference(kind, name, kind + " " + name + " missing in " + rightName));
            }
        }
    }

    private static SchemaDifference readAlter(String sql, String leftName, Meta left, String rightName, Meta right) {
        Matcher m;
        if ((m = ADD_CONSTRAINT.matcher(sql)).matches()) {
            String name = m.group(1) + "." + m.group(2);
            return new SchemaDifference("constraint", name,
                    "constraint " + name + " missing in " + leftName + " (" + rightName + ": " + m.group(3) + ")");
        }
        if ((m = DROP_CONSTRAINT.matcher(sql)).matches()) {
            String name = m.group(1) + "." + m.group(2);
            return new SchemaDifference("constraint", name, "constraint " + name + " missing in " + rightName);
        }
        if ((m = ADD_COLUMN.matcher(sql)).matches()) {
            String name = m.group(1) + "." + m.group(2);
            return new SchemaDifference("column", name,
                    rightName + " has column " + name + " " + m.group(3) + " (not in " + leftName + ")");
        }
        if ((m = DROP_COLUMN.matcher(sql)).matches()) {
            String name = m.group(1) + "." + m.group(2);
            Field<?> column = field(left, m.group(1), m.group(2));
            String type = column == null ? "" : " " + column.getDataType().getCastTypeName(RENDER.configuration());
            return new SchemaDifference("column", name,
                    leftName + " has column " + name + type + " (not in " + rightName + ")");
        }
        if ((m = ALTER_COLUMN.matcher(sql)).matches()) {
            String name = m.group(1) + "." + m.group(2);
            return new SchemaDifference("column", name, "column " + name + " differs: "
                    + leftName + " " + describe(field(left, m.group(1), m.group(2))) + "; "
                    + rightName + " " + describe(field(right, m.group(1), m.group(2))));
        }
        if ((m = SEQUENCE.matcher(sql)).matches()) {
            String name = m.group(2);
            return new SchemaDifference("sequence", name,
                    "sequence " + name + " missing in " + (m.group(1).equals("create") ? leftName : rightName));
        }
        return new SchemaDifference("other", sql, leftName + " and " + rightName + " differ: to match "
                + rightName + ", " + leftName + " would need `" + sql + "`");
    }

    private static Field<?> field(Meta meta, String table, String column) {
        for (Table<?> t : meta.getTables(table)) {
            Field<?> f = t.field(column);
            if (f != null) {
                return f;
            }
        }
        return null;
    }

    /** {@code text not null default 'free'::text} */
    private static String describe(Field<?> field) {
        if (field == null) {
            return "";
        }
        DataType<?> type = field.getDataType();
        StringBuilder s = new StringBuilder(type.getCastTypeName(RENDER.configuration()));
        s.append(type.nullable() ? " null" : " not null");
        if (type.defaulted()) {
            s.append(" default ").append(RENDER.render(type.defaultValue()));
        }
        return s.toString();
    }

    private static List<SchemaDifference> compareCatalogs(String leftName, CatalogSnapshot left,
                                                          String rightName, CatalogSnapshot right) {
        List<SchemaDifference> result = new ArrayList<>();
        for (String kind : left.objects().keySet()) {
            Map<String, String> l = left.objects().get(kind);
            Map<String, String> r = right.objects().get(kind);
            Set<String> names = new TreeSet<>(l.keySet());
            names.addAll(r.keySet());
            for (String name : names) {
                if (!r.containsKey(name)) {
                    result.add(new SchemaDifference(kind, name, kind + " " + name + " missing in " + rightName));
                } else if (!l.containsKey(name)) {
                    result.add(new SchemaDifference(kind, name, kind + " " + name + " missing in " + leftName));
                } else if (!l.get(name).equals(r.get(name))) {
                    result.add(new SchemaDifference(kind, name, kind + " " + name + " differs"
                            + (kind.equals(CatalogSnapshot.PARTITION) || kind.equals(CatalogSnapshot.PARTITION_KEY)
                                    || kind.equals(CatalogSnapshot.CHECK_CONSTRAINT)
                                    ? ": " + leftName + " " + l.get(name) + "; " + rightName + " " + r.get(name)
                                    : "")));
                }
            }
        }
        return result;
    }
}
