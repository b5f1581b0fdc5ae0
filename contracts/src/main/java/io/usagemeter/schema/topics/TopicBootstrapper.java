package io.usagemeter.schema.topics;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the topics that are missing and reports, without altering, existing topics whose
 * partitions, replication or configs differ from their definition. Altering a live topic
 * (partition count changes key placement, retention drops data) is an operator's decision.
 */
public final class TopicBootstrapper {

    private static final Logger log = LoggerFactory.getLogger(TopicBootstrapper.class);
    private static final long TIMEOUT_SECONDS = 30;

    private final Admin admin;
    private final short replicationFactor;

    /**
     * @param replicationFactor of the topics it creates; {@link TopicSettings#AUTO} asks the cluster (3 from 3
     *     brokers on, else the broker count)
     */
    public TopicBootstrapper(Admin admin, short replicationFactor) {
        this.admin = Objects.requireNonNull(admin, "admin");
        if (replicationFactor < 0) {
            throw new IllegalArgumentException("replication factor must be 1 or more (or AUTO), was " + replicationFactor);
        }
        this.replicationFactor = replicationFactor;
    }

    /** Bootstraps {@link Topics#all(TopicSettings)}, {@link #resolve resolved} against the cluster first if need be. */
    public static BootstrapReport bootstrap(Admin admin, TopicSettings settings) {
        TopicSettings resolved = settings.resolved() ? settings : resolve(admin, settings);
        return new TopicBootstrapper(admin, resolved.replicationFactor()).bootstrap(Topics.all(resolved));
    }

    /**
     * {@code settings} with replication chosen for this cluster (see {@link TopicSettings#resolve}), logging a
     * warning for anything below production's 3 replicas and 2 in sync. Settings already resolved are only
     * checked against the cluster.
     */
    public static TopicSettings resolve(Admin admin, TopicSettings settings) {
        int brokers = await(admin.describeCluster().nodes(), "describe the cluster").size();
        TopicSettings resolved = settings.resolve(brokers);
        resolved.warnings(brokers).forEach(warning -> log.warn("{}", warning));
        return resolved;
    }

    /** Creates what is missing among {@code topics}, compares the rest, logs and returns the report. */
    public BootstrapReport bootstrap(Collection<? extends Topic<?, ?>> topics) {
        short replicationFactor = this.replicationFactor != TopicSettings.AUTO ? this.replicationFactor
                : resolve(admin, new TopicSettings(1, TopicSettings.AUTO, TopicSettings.AUTO,
                        TopicSettings.DEFAULT_USAGE_EVENTS_RETENTION)).replicationFactor();
        Map<String, Topic<?, ?>> byName = new HashMap<>();
        topics.forEach(t -> byName.put(t.name(), t));
        Set<String> existing = await(admin.listTopics().names(), "list topics");

        List<String> created = new ArrayList<>();
        List<String> existingNames = new ArrayList<>();
        List<NewTopic> toCreate = new ArrayList<>();
        for (Topic<?, ?> topic : byName.values()) {
            if (existing.contains(topic.name())) {
                existingNames.add(topic.name());
            } else {
                toCreate.add(new NewTopic(topic.name(), topic.partitions(), replicationFactor).configs(topic.configs()));
            }
        }
        if (!toCreate.isEmpty()) {
            CreateTopicsResult result = admin.createTopics(toCreate);
            for (NewTopic newTopic : toCreate) {
                try {
                    await(result.values().get(newTopic.name()), "create topic " + newTopic.name());
                    created.add(newTopic.name());
                } catch (TopicCreationRace race) {
                    // Another instance created it between our list and create: compare it like any existing one.
                    existingNames.add(newTopic.name());
                }
            }
        }

        awaitLeaders(created);

        List<BootstrapReport.TopicDrift> drifts = compare(existingNames.stream().map(byName::get).toList(), replicationFactor);
        Set<String> drifted = drifts.stream().map(BootstrapReport.TopicDrift::topic).collect(Collectors.toSet());
        List<String> unchanged = existingNames.stream().filter(name -> !drifted.contains(name)).sorted().toList();
        BootstrapReport report = new BootstrapReport(created.stream().sorted().toList(), unchanged, drifts);
        log(report);
        return report;
    }

    private List<BootstrapReport.TopicDrift> compare(List<Topic<?, ?>> topics, short replicationFactor) {
        if (topics.isEmpty()) {
            return List.of();
        }
        List<String> names = topics.stream().map(Topic::name).toList();
        Map<String, TopicDescription> descriptions = await(admin.describeTopics(names).allTopicNames(), "describe topics");
        List<ConfigResource> resources = names.stream().map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n)).toList();
        Map<ConfigResource, Config> configs = await(admin.describeConfigs(resources).all(), "describe topic configs");

        List<BootstrapReport.TopicDrift> drifts = new ArrayList<>();
        for (Topic<?, ?> topic : topics) {
            List<BootstrapReport.Difference> differences = new ArrayList<>();
            TopicDescription description = descriptions.get(topic.name());
            int partitions = description.partitions().size();
            if (partitions != topic.partitions()) {
                differences.add(new BootstrapReport.Difference("partitions",
                        Integer.toString(topic.partitions()), Integer.toString(partitions)));
            }
            int replicas = description.partitions().get(0).replicas().size();
            if (replicas != replicationFactor) {
                differences.add(new BootstrapReport.Difference("replication.factor",
                        Short.toString(replicationFactor), Integer.toString(replicas)));
            }
            Config actual = configs.get(new ConfigResource(ConfigResource.Type.TOPIC, topic.name()));
            topic.configs().forEach((name, expected) -> {
                ConfigEntry entry = actual.get(name);
                String value = entry == null ? null : entry.value();
                if (!expected.equals(value)) {
                    differences.add(new BootstrapReport.Difference(name, expected, value));
                }
            });
            if (!differences.isEmpty()) {
                drifts.add(new BootstrapReport.TopicDrift(topic.name(), differences));
            }
        }
        drifts.sort((a, b) -> a.topic().compareTo(b.topic()));
        return drifts;
    }

    /**
     * Waits until every partition of the new topics answers on its leader. Creation returns before
     * the broker has taken leadership; an idempotent producer that writes in that gap can get
     * NOT_LEADER_OR_FOLLOWER on an early batch while a later one is accepted, and then fails that
     * partition with OutOfOrderSequence until its delivery timeout (seen on the embedded broker).
     */
    private void awaitLeaders(List<String> topics) {
        if (topics.isEmpty()) {
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (true) {
            try {
                // A just-created topic may not be in the metadata yet (UnknownTopicOrPartition): describe
                // inside the retry loop too.
                Map<String, TopicDescription> descriptions =
                        admin.describeTopics(topics).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                Map<TopicPartition, OffsetSpec> partitions = new HashMap<>();
                descriptions.values().forEach(d -> d.partitions().forEach(
                        p -> partitions.put(new TopicPartition(d.name(), p.partition()), OffsetSpec.latest())));
                // ListOffsets is served by the partition leader only, so success means writable.
                admin.listOffsets(partitions).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for leaders of " + topics, e);
            } catch (ExecutionException | TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("new topics " + topics + " have no leader after "
                            + TIMEOUT_SECONDS + " s: " + e.getMessage(), e);
                }
                sleep(100);
            }
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static void log(BootstrapReport report) {
        if (!report.created().isEmpty()) {
            log.info("Created topics {}", report.created());
        }
        if (!report.unchanged().isEmpty()) {
            log.info("Topics already as defined: {}", report.unchanged());
        }
        for (BootstrapReport.TopicDrift drift : report.drifted()) {
            log.warn("Topic {} differs from its definition and was NOT altered: {}", drift.topic(), drift.differences());
        }
    }

    private static <T> T await(KafkaFuture<T> future, String what) {
        try {
            return future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting to " + what, e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException) {
                throw new TopicCreationRace();
            }
            throw new IllegalStateException("could not " + what + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka did not answer within " + TIMEOUT_SECONDS + " s to " + what, e);
        }
    }

    private static final class TopicCreationRace extends RuntimeException {
        TopicCreationRace() {
            super(null, null, false, false);
        }
    }
}
