package io.usagemeter.schema.sync;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The objects jOOQ's {@code Meta} does not describe, read from pg_catalog by their definition
 * text: functions ({@code pg_get_functiondef}), triggers, views, partitions and partition keys,
 * and check and exclusion constraints. Objects owned by extensions are left out: they come with
 * the extension, not with our migrations.
 *
 * @param objects kind → (name → definition)
 */
record CatalogSnapshot(Map<String, Map<String, String>> objects) {

    static final String FUNCTION = "function";
    static final String TRIGGER = "trigger";
    static final String VIEW = "view";
    static final String MATERIALIZED_VIEW = "materialized view";
    static final String PARTITION = "partition";
    static final String PARTITION_KEY = "partition key of table";
    static final String CHECK_CONSTRAINT = "constraint";

    private static final String NOT_FROM_EXTENSION =
            " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = %s AND d.deptype = 'e')";

    private static final String FUNCTIONS = """
            SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid)
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = ANY (?) AND p.prokind IN ('f', 'p')""" + NOT_FROM_EXTENSION.formatted("p.oid");

    private static final String TRIGGERS = """
            SELECT c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
              FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY (?) AND NOT t.tgisinternal AND NOT c.relispartition
               AND c.relname <> 'flyway_schema_history'""";

    private static final String VIEWS = """
            SELECT c.relname, pg_get_viewdef(c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY (?) AND c.relkind = ?""" + NOT_FROM_EXTENSION.formatted("c.oid");

    private static final String PARTITIONS = """
            SELECT c.relname, 'of ' || parent.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_inherits i ON i.inhrelid = c.oid
              JOIN pg_class parent ON parent.oid = i.inhparent
             WHERE n.nspname = ANY (?) AND c.relispartition AND c.relkind IN ('r', 'p')""";

    private static final String PARTITION_KEYS = """
            SELECT c.relname, pg_get_partkeydef(c.oid)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY (?) AND c.relkind = 'p'""";

    private static final String CHECKS = """
            SELECT c.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
              FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = ANY (?) AND k.contype IN ('c', 'x') AND NOT c.relispartition
               AND c.relname <> 'flyway_schema_history'""";

    static CatalogSnapshot read(Connection connection, List<String> schemas) throws SQLException {
        Map<String, Map<String, String>> objects = new TreeMap<>();
        objects.put(FUNCTION, query(connection, FUNCTIONS, schemas, null));
        objects.put(TRIGGER, query(connection, TRIGGERS, schemas, null));
        objects.put(VIEW, query(connection, VIEWS, schemas, "v"));
        objects.put(MATERIALIZED_VIEW, query(connection, VIEWS, schemas, "m"));
        objects.put(PARTITION, query(connection, PARTITIONS, schemas, null));
        objects.put(PARTITION_KEY, query(connection, PARTITION_KEYS, schemas, null));
        objects.put(CHECK_CONSTRAINT, query(connection, CHECKS, schemas, null));
        return new CatalogSnapshot(objects);
    }

    /** Names of tables that are partitions or views: jOOQ would otherwise list them as tables. */
    static Set<String> relationsNotComparedAsTables(CatalogSnapshot snapshot) {
        Set<String> names = new HashSet<>();
        names.addAll(snapshot.objects().get(PARTITION).keySet());
        names.addAll(snapshot.objects().get(VIEW).keySet());
        names.addAll(snapshot.objects().get(MATERIALIZED_VIEW).keySet());
        return names;
    }

    private static Map<String, String> query(Connection connection, String sql, List<String> schemas,
                                             String relkind) throws SQLException {
        Map<String, String> result = new TreeMap<>();
        try (PreparedStatement st = connection.prepareStatement(sql)) {
            Array array = connection.createArrayOf("text", schemas.toArray());
            st.setArray(1, array);
            if (relkind != null) {
                st.setString(2, relkind);
            }
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    result.put(rs.getString(1), normalise(rs.getString(2)));
                }
            }
        }
        return result;
    }

    /** Trailing whitespace is not a difference worth reporting. */
    private static String normalise(String definition) {
        return definition == null ? "" : definition.strip();
    }
}
