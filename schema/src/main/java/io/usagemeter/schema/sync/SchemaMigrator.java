package io.usagemeter.schema.sync;

import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationState;
import org.flywaydb.core.internal.exception.FlywayMigrateException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Flyway over the configured environments: status, validation and the dev-then-prod sync.
 *
 * <p>Each migration runs in its own transaction ({@code group=false}), and a migration that
 * mixes transactional and non-transactional statements is refused ({@code mixed=false}), so a
 * failing migration is rolled back whole and leaves the database as it was.
 */
public final class SchemaMigrator {

    private static final Logger log = LoggerFactory.getLogger(SchemaMigrator.class);

    private final MigrationSource source;

    public SchemaMigrator(MigrationSource source) {
        this.source = source;
    }

    /** The state of every migration in {@code env}; changes nothing. */
    public EnvironmentStatus status(DatabaseEnvironment env) {
        DatabaseConnector.probe(env);
        try {
            return statusOf(env, flyway(env).info().all());
        } catch (FlywayException e) {
            throw new SchemaToolException(env.name() + ": " + describe(env, e));
        }
    }

    /**
     * Migrates the environments in order, each only if every one before it succeeded
     * (dev before prod). Never throws for a database problem: the outcome says what happened.
     */
    public List<SyncOutcome> sync(List<DatabaseEnvironment> environments) {
        List<SyncOutcome> outcomes = new ArrayList<>();
        DatabaseEnvironment failed = null;
        for (DatabaseEnvironment env : environments) {
            if (failed != null) {
                outcomes.add(new SyncOutcome(env, SyncOutcome.Result.NOT_ATTEMPTED, List.of(),
                        "not attempted because " + failed.name() + " failed"));
                continue;
            }
            SyncOutcome outcome = migrate(env);
            outcomes.add(outcome);
            if (outcome.failed()) {
                failed = env;
            }
        }
        return outcomes;
    }

    private SyncOutcome migrate(DatabaseEnvironment env) {
        EnvironmentStatus before;
        try {
            before = status(env);
        } catch (SchemaToolException e) {
            return new SyncOutcome(env, SyncOutcome.Result.FAILED, List.of(), e.getMessage());
        }
        if (!before.problems().isEmpty()) {
            List<String> problems = before.problems().stream()
                    .map(m -> m.displayName() + ": " + m.state().label()).toList();
            return new SyncOutcome(env, SyncOutcome.Result.FAILED, List.of(),
                    "refused to migrate: " + String.join("; ", problems));
        }
        if (before.pending().isEmpty()) {
            return new SyncOutcome(env, SyncOutcome.Result.UP_TO_DATE, List.of(), null);
        }
        log.info("Migrating {} ({} pending)", env.name(), before.pending().size());
        String failure = null;
        try {
            flyway(env).migrate();
        } catch (FlywayException e) {
            failure = describe(env, e);
        }
        List<MigrationStatus> applied = newlyApplied(before, env);
        if (failure != null) {
            return new SyncOutcome(env, SyncOutcome.Result.FAILED, applied, failure);
        }
        return new SyncOutcome(env, SyncOutcome.Result.APPLIED, applied, null);
    }

    private List<MigrationStatus> newlyApplied(EnvironmentStatus before, DatabaseEnvironment env) {
        Set<String> already = new HashSet<>();
        before.applied().forEach(m -> already.add(m.version()));
        try {
            return statusOf(env, flyway(env).info().all()).applied().stream()
                    .filter(m -> m.state() == MigrationStatus.State.APPLIED && !already.contains(m.version()))
                    .toList();
        } catch (FlywayException e) {
            return List.of();
        }
    }

    Flyway flyway(DatabaseEnvironment env) {
        return Flyway.configure()
                .dataSource(DatabaseConnector.dataSource(env))
                .locations(source.location())
                .group(false)
                .mixed(false)
                .cleanDisabled(true)
                .validateMigrationNaming(true)
                .load();
    }

    private static EnvironmentStatus statusOf(DatabaseEnvironment env, MigrationInfo[] infos) {
        List<MigrationStatus> migrations = new ArrayList<>();
        for (MigrationInfo info : infos) {
            if (info.getVersion() == null) {
                continue; // repeatable migrations are not used here
            }
            migrations.add(new MigrationStatus(info.getVersion().getVersion(), info.getDescription(),
                    stateOf(info), info.isApplied() ? info.getAppliedChecksum() : null));
        }
        return new EnvironmentStatus(env, migrations);
    }

    private static MigrationStatus.State stateOf(MigrationInfo info) {
        MigrationState state = info.getState();
        if (state.isFailed()) {
            return MigrationStatus.State.FAILED;
        }
        return switch (state) {
            case SUCCESS, OUT_OF_ORDER -> info.isChecksumMatching()
                    ? MigrationStatus.State.APPLIED
                    : MigrationStatus.State.EDITED_AFTER_APPLY;
            case PENDING -> MigrationStatus.State.PENDING;
            case IGNORED -> MigrationStatus.State.NOT_APPLICABLE;
            case MISSING_SUCCESS, FUTURE_SUCCESS -> MigrationStatus.State.MISSING_FILE;
            default -> MigrationStatus.State.OTHER;
        };
    }

    /** One line saying why Flyway failed, without credentials. */
    static String describe(DatabaseEnvironment env, FlywayException e) {
        String text;
        if (e instanceof FlywayMigrateException failed && failed.getMigration() != null) {
            MigrationInfo m = failed.getMigration();
            String version = m.getVersion() == null ? m.getDescription()
                    : "V" + m.getVersion().getVersion() + " " + m.getDescription();
            text = version + " failed: " + sqlReason(e)
                    + (failed.isExecutableInTransaction() ? " (rolled back, the database is as before this migration)" : "");
        } else {
            text = DatabaseConnector.firstLine(sqlReasonOr(e));
        }
        return new CredentialMask(List.of(env)).scrub(text);
    }

    private static String sqlReason(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql) {
                return DatabaseConnector.firstLine(sql.getMessage());
            }
        }
        return DatabaseConnector.firstLine(e.getMessage());
    }

    private static String sqlReasonOr(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql) {
                return sql.getMessage();
            }
        }
        return e.getMessage();
    }
}
