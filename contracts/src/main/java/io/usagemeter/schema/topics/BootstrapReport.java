package io.usagemeter.schema.topics;

import java.util.List;
import java.util.Objects;

/**
 * What {@link TopicBootstrapper} did: topics it created, topics already as defined, and topics
 * that exist with different settings (reported, never altered).
 */
public record BootstrapReport(List<String> created, List<String> unchanged, List<TopicDrift> drifted) {

    public BootstrapReport {
        created = List.copyOf(created);
        unchanged = List.copyOf(unchanged);
        drifted = List.copyOf(drifted);
    }

    /** True when every topic existed exactly as defined. */
    public boolean nothingToDo() {
        return created.isEmpty() && drifted.isEmpty();
    }

    public boolean hasDrift() {
        return !drifted.isEmpty();
    }

    /** An existing topic whose settings differ from its definition. */
    public record TopicDrift(String topic, List<Difference> differences) {
        public TopicDrift {
            Objects.requireNonNull(topic, "topic");
            differences = List.copyOf(differences);
        }
    }

    /** One setting: what the definition says and what the broker has ({@code null} when unset). */
    public record Difference(String setting, String expected, String actual) {
        @Override
        public String toString() {
            return setting + " expected " + expected + " but is " + actual;
        }
    }
}
