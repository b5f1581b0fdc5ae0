package io.usagemeter.schema.sync;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Whether environments agree: the same migrations applied, with the same checksums.
 * Every environment is compared with the first one (dev by default).
 */
public record Agreement(List<String> disagreements) {

    public static Agreement of(List<EnvironmentStatus> statuses) {
        List<String> disagreements = new ArrayList<>();
        if (statuses.size() < 2) {
            return new Agreement(disagreements);
        }
        EnvironmentStatus reference = statuses.get(0);
        Map<String, MigrationStatus> expected = appliedByVersion(reference);
        for (EnvironmentStatus other : statuses.subList(1, statuses.size())) {
            Map<String, MigrationStatus> actual = appliedByVersion(other);
            String a = reference.environment().name();
            String b = other.environment().name();
            for (MigrationStatus m : expected.values()) {
                MigrationStatus o = actual.get(m.version());
                if (o == null) {
                    disagreements.add(m.displayName() + " is applied in " + a + ", not in " + b);
                } else if (!Objects.equals(m.appliedChecksum(), o.appliedChecksum())) {
                    disagreements.add(m.displayName() + " was applied with different contents in " + a + " and " + b
                            + " (checksums differ)");
                }
            }
            for (MigrationStatus o : actual.values()) {
                if (!expected.containsKey(o.version())) {
                    disagreements.add(o.displayName() + " is applied in " + b + ", not in " + a);
                }
            }
        }
        return new Agreement(List.copyOf(disagreements));
    }

    public boolean agree() {
        return disagreements.isEmpty();
    }

    private static Map<String, MigrationStatus> appliedByVersion(EnvironmentStatus status) {
        Map<String, MigrationStatus> result = new LinkedHashMap<>();
        for (MigrationStatus m : status.applied()) {
            result.put(m.version(), m);
        }
        return result;
    }
}
