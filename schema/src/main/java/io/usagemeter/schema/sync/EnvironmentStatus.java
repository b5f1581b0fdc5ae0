package io.usagemeter.schema.sync;

import java.util.List;

/** Every migration known to one environment (from its history or the migration files). */
public record EnvironmentStatus(DatabaseEnvironment environment, List<MigrationStatus> migrations) {

    public EnvironmentStatus {
        migrations = List.copyOf(migrations);
    }

    public List<MigrationStatus> problems() {
        return migrations.stream().filter(m -> m.state().isProblem()).toList();
    }

    public List<MigrationStatus> applied() {
        return migrations.stream().filter(MigrationStatus::isApplied).toList();
    }

    public List<MigrationStatus> pending() {
        return migrations.stream().filter(m -> m.state() == MigrationStatus.State.PENDING).toList();
    }
}
