package io.usagemeter.schema.legacy;

import io.usagemeter.schema.FlywayMigrations;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Adopts the older system's database (what {@code meter schema baseline} runs) without touching its rows.
 *
 * <ol>
 *   <li>One transaction: check that {@code public} looks like the older schema and that no Flyway history
 *       exists, rename {@code public} to {@code legacy}, create an empty {@code public}.</li>
 *   <li>Flyway migrates the new {@code public}.</li>
 *   <li>One transaction: copy the legacy rows into the new tables ({@code db/legacy/adopt.sql}) and pin the
 *       legacy functions to the {@code legacy} schema, so its old trigger can never write into the new tables.</li>
 * </ol>
 * If step 2 or 3 fails, the new {@code public} is dropped and {@code legacy} renamed back: the database is as
 * it was. The {@code legacy} schema stays for inspection after a success. Stop the older system's writers
 * first: they would otherwise write into the new schema.
 */
public final class LegacyAdoption {

    public static final String LEGACY_SCHEMA = "legacy";
    static final String COPY_SCRIPT = "/db/legacy/adopt.sql";

    private static final Logger log = LoggerFactory.getLogger(LegacyAdoption.class);
    private static final Pattern SECTION = Pattern.compile("^-- @(copy|step) (.+)$", Pattern.MULTILINE);
    private static final Pattern COPY = Pattern.compile("([a-z_]+) from ([a-z_]+)");

    /** The older schema as adopt.sql reads it: table and the columns it needs. */
    private static final Map<String, List<String>> LEGACY_COLUMNS = legacyColumns();

    private final List<Section> sections;

    public LegacyAdoption() {
        this.sections = parse(readCopyScript());
    }

    public AdoptionReport adopt(DataSource dataSource) {
        String publicOwner = moveOlderSchemaAside(dataSource);
        try {
            MigrateResult migrated = migrate(dataSource);
            List<AdoptionReport.TableCopy> copies = copyRows(dataSource);
            AdoptionReport report = new AdoptionReport(LEGACY_SCHEMA, migrated.targetSchemaVersion,
                    migrated.migrationsExecuted, copies);
            log.info("Adopted the older schema: now at version {}, legacy objects kept in schema {}",
                    report.schemaVersion(), LEGACY_SCHEMA);
            return report;
        } catch (RuntimeException e) {
            undo(dataSource, publicOwner, e);
            throw new LegacyAdoptionException("adoption failed and was undone (the database is as it was): "
                    + rootMessage(e), e);
        }
    }

    /** Step 1; returns the owner of the original {@code public}, who also owns the new one. */
    private static String moveOlderSchemaAside(DataSource dataSource) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                refuseUnlessOlderSchema(st);
                String owner = single(st, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'public'");
                st.execute("ALTER SCHEMA public RENAME TO " + LEGACY_SCHEMA);
                st.execute("CREATE SCHEMA public AUTHORIZATION " + quoteIdent(owner));
                st.execute("GRANT USAGE ON SCHEMA public TO PUBLIC");
                st.execute("COMMENT ON SCHEMA public IS 'usage-meter schema, managed by Flyway'");
                c.commit();
                log.info("Renamed schema public to {} and created an empty public", LEGACY_SCHEMA);
                return owner;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new LegacyAdoptionException("could not move the older schema aside (nothing changed): "
                    + e.getMessage(), e);
        }
    }

    private static void refuseUnlessOlderSchema(Statement st) throws SQLException {
        String history = single(st, "SELECT string_agg(n.nspname || '.' || c.relname, ', ') FROM pg_class c "
                + "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = 'flyway_schema_history'");
        if (history != null) {
            throw new LegacyAdoptionException("the database is already managed by Flyway (" + history
                    + "): nothing to adopt; use `meter schema sync` instead");
        }
        if (single(st, "SELECT to_regnamespace('" + LEGACY_SCHEMA + "')::text") != null) {
            throw new LegacyAdoptionException("a schema named " + LEGACY_SCHEMA
                    + " already exists: was this database adopted before? Rename or drop it first");
        }
        Map<String, Set<String>> present = new LinkedHashMap<>();
        try (ResultSet rs = st.executeQuery("SELECT table_name, column_name FROM information_schema.columns "
                + "WHERE table_schema = 'public'")) {
            while (rs.next()) {
                present.computeIfAbsent(rs.getString(1), t -> new TreeSet<>()).add(rs.getString(2));
            }
        }
        List<String> missing = new ArrayList<>();
        LEGACY_COLUMNS.forEach((table, columns) -> {
            Set<String> has = present.get(table);
            if (has == null) {
                missing.add("table " + table);
            } else {
                columns.stream().filter(col -> !has.contains(col)).forEach(col -> missing.add(table + "." + col));
            }
        });
        if (!missing.isEmpty()) {
            throw new LegacyAdoptionException("schema public does not look like the older system's database; missing: "
                    + String.join(", ", missing));
        }
    }

    /** Step 2. */
    private static MigrateResult migrate(DataSource dataSource) {
        Flyway flyway = FlywayMigrations.flyway(dataSource);
        MigrateResult result = flyway.migrate();
        log.info("Flyway applied {} migrations to the new public schema", result.migrationsExecuted);
        return result;
    }

    /** Step 3. */
    private List<AdoptionReport.TableCopy> copyRows(DataSource dataSource) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            try (Statement st = c.createStatement()) {
                List<AdoptionReport.TableCopy> copies = new ArrayList<>();
                for (Section section : sections) {
                    if (section.table() == null) {
                        st.execute(section.sql());
                        continue;
                    }
                    long legacyRows = Long.parseLong(single(st, "SELECT count(*) FROM " + LEGACY_SCHEMA + "."
                            + section.legacyTable()));
                    long copied = st.executeLargeUpdate(section.sql());
                    copies.add(new AdoptionReport.TableCopy(section.table(), section.legacyTable(), legacyRows, copied));
                    log.info("Copied {} of {} legacy rows into {}", copied, legacyRows, section.table());
                }
                pinLegacyFunctions(st);
                c.commit();
                return copies;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new LegacyAdoptionException("copying the legacy rows failed: " + e.getMessage(), e);
        }
    }

    /**
     * The older functions resolve tables through the search path, which now finds the new tables first:
     * pin them to {@code legacy} so the old summary trigger, if fired, keeps writing legacy rows only.
     */
    private static void pinLegacyFunctions(Statement st) throws SQLException {
        List<String> functions = new ArrayList<>();
        try (ResultSet rs = st.executeQuery("SELECT p.oid::regprocedure::text FROM pg_proc p "
                + "WHERE p.pronamespace = '" + LEGACY_SCHEMA + "'::regnamespace AND p.prokind = 'f' "
                + "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
                + "AND d.objid = p.oid AND d.deptype = 'e')")) {
            while (rs.next()) {
                functions.add(rs.getString(1));
            }
        }
        for (String function : functions) {
            st.execute("ALTER FUNCTION " + function + " SET search_path = pg_catalog, " + LEGACY_SCHEMA);
        }
    }

    private static void undo(DataSource dataSource, String publicOwner, RuntimeException failure) {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement st = c.createStatement()) {
                st.execute("DROP SCHEMA public CASCADE");
                st.execute("ALTER SCHEMA " + LEGACY_SCHEMA + " RENAME TO public");
                c.commit();
                log.warn("Adoption failed ({}); dropped the new public schema and renamed {} back to public",
                        rootMessage(failure), LEGACY_SCHEMA);
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            failure.addSuppressed(e);
            throw new LegacyAdoptionException("adoption failed (" + rootMessage(failure) + ") and so did the undo ("
                    + e.getMessage() + "): the older schema is in " + LEGACY_SCHEMA + "; drop schema public and "
                    + "rename " + LEGACY_SCHEMA + " to public (owner " + publicOwner + ") by hand", failure);
        }
    }

    private static String single(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static String quoteIdent(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    private static String rootMessage(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        return cause.getMessage();
    }

    private record Section(String table, String legacyTable, String sql) {
    }

    private static String readCopyScript() {
        try (InputStream in = LegacyAdoption.class.getResourceAsStream(COPY_SCRIPT)) {
            if (in == null) {
                throw new IllegalStateException(COPY_SCRIPT + " is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Splits adopt.sql at its section headers ({@code -- @copy TABLE from LEGACY_TABLE}, {@code -- @step WHAT}). */
    static List<Section> parse(String script) {
        List<Section> parsed = new ArrayList<>();
        Matcher header = SECTION.matcher(script);
        String kind = null;
        String title = null;
        int bodyStart = 0;
        boolean found;
        do {
            found = header.find();
            if (kind != null) {
                String sql = script.substring(bodyStart, found ? header.start() : script.length()).strip();
                parsed.add(section(kind, title, sql));
            }
            if (found) {
                kind = header.group(1);
                title = header.group(2).trim();
                bodyStart = header.end();
            }
        } while (found);
        return parsed;
    }

    private static Section section(String kind, String title, String sql) {
        if (kind.equals("step")) {
            return new Section(null, null, sql);
        }
        Matcher copy = COPY.matcher(title);
        if (!copy.matches()) {
            throw new IllegalStateException(COPY_SCRIPT + ": bad section header: -- @copy " + title);
        }
        return new Section(copy.group(1), copy.group(2), sql);
    }

    private static Map<String, List<String>> legacyColumns() {
        Map<String, List<String>> columns = new LinkedHashMap<>();
        columns.put("users", List.of("id", "email", "name", "plan", "is_admin", "created_at", "updated_at",
                "referral_code", "referred_by", "referral_count", "bonus_credits"));
        columns.put("user_sessions", List.of("id", "user_id", "created_at", "expires_at", "is_active"));
        columns.put("analytics_events", List.of("id", "user_id", "event_type", "event_data", "created_at"));
        columns.put("user_tokens", List.of("user_id", "provider", "encrypted_token", "iv", "created_at"));
        columns.put("api_usage", List.of("id", "user_id", "provider", "endpoint", "method", "status_code",
                "response_time_ms", "request_size", "response_size", "tokens_used", "created_at"));
        columns.put("monthly_usage_summary", List.of("user_id", "month", "total_calls", "successful_calls",
                "failed_calls", "total_tokens", "avg_response_time_ms", "updated_at"));
        columns.put("subscription_limits", List.of("plan_name", "monthly_api_calls", "description"));
        columns.put("user_referrals", List.of("id", "referrer_id", "referred_id", "status", "created_at",
                "completed_at"));
        return Collections.unmodifiableMap(columns);
    }
}
