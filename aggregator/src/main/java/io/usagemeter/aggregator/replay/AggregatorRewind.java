package io.usagemeter.aggregator.replay;

import io.usagemeter.aggregator.AggregatorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.StreamsGroupDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.tools.StreamsResetter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds the live aggregator itself from the event log (docs/operations/rewind.md), for when a
 * replay reports that the stream diverges from what the log gives (after a fix of the counting, or lost state).
 * With every aggregator instance stopped, Kafka's own reset tool ({@link StreamsResetter}) moves the aggregator's
 * consumer group on {@code meter.usage-events} and {@code meter.admin-commands} back to the range start minus the
 * dedupe window and deletes its changelogs; the local state is removed. The restarted aggregator counts from
 * there into fresh state and republishes every summary of the range.
 *
 * <p>Refuses, changing nothing, while the group has members, and when retention removed the start of the range
 * (the replay's own check, {@link InputLog}).
 */
public final class AggregatorRewind {

    private static final Logger LOG = LoggerFactory.getLogger(AggregatorRewind.class);
    private static final DateTimeFormatter RESETTER_TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", Locale.ROOT).withZone(ZoneOffset.UTC);

    private final AggregatorConfig aggregator;
    private final Duration latenessBound;
    private final Clock clock;

    /**
     * @param aggregator the live aggregator's settings: its application id, state directory and dedupe window
     * @param latenessBound how old an event may be when ingested ({@code METER_INGEST_MAX_LATENESS}): months
     *     within it still receive events
     */
    public AggregatorRewind(AggregatorConfig aggregator, Duration latenessBound, Clock clock) {
        this.aggregator = aggregator;
        this.latenessBound = latenessBound;
        this.clock = clock;
    }

    /**
     * What a rewind to {@code range} would do; changes nothing.
     *
     * @throws ReplayRefusedException when retention removed records the range needs (the message names the
     *     earliest time still available)
     */
    public RewindPlan plan(ReplayRange range) throws ReplayRefusedException {
        ReplayPlan input = new InputLog(aggregator).plan(range, true, "rewinding the aggregator to");
        String id = aggregator.applicationId();
        try (Admin admin = admin()) {
            List<String> members = activeMembers(admin);
            Map<TopicPartition, OffsetAndMetadata> committed = committed(admin);
            List<RewindPlan.Position> positions = input.startOffsets().entrySet().stream()
                    .sorted(Map.Entry.comparingByKey(Comparator.comparing(TopicPartition::topic)
                            .thenComparingInt(TopicPartition::partition)))
                    .map(e -> new RewindPlan.Position(e.getKey(),
                            Optional.ofNullable(committed.get(e.getKey())).map(OffsetAndMetadata::offset).orElse(null),
                            e.getValue()))
                    .toList();
            Path localState = aggregator.stateDir().resolve(id);
            YearMonth stillReceiving = YearMonth.from(clock.instant().minus(latenessBound).atOffset(ZoneOffset.UTC));
            return new RewindPlan(id, range, input.eventsFrom(), members, positions, input.recordsToRead(),
                    internalTopics(admin), localState, Files.isDirectory(localState), stillReceiving);
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot read the aggregator's group " + id + " at "
                    + aggregator.bootstrapServers() + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka at " + aggregator.bootstrapServers() + " did not answer within 30 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while planning the rewind", e);
        }
    }

    /** The refusal while the aggregator runs, as {@link #rewind} throws it; empty when every instance is stopped. */
    public static Optional<String> refusal(RewindPlan plan) {
        if (plan.activeMembers().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of("the aggregator " + plan.applicationId() + " is running (" + plan.activeMembers().size()
                + " active member" + (plan.activeMembers().size() == 1 ? "" : "s") + " of its consumer group: "
                + String.join(", ", plan.activeMembers()) + "): stop every aggregator instance first. Nothing was changed.");
    }

    /**
     * Rewinds as planned: checks again that no instance runs, then Kafka's reset tool positions the group and
     * deletes the internal topics, then the local state here is removed.
     *
     * @throws ReplayRefusedException while the aggregator's group has members; nothing was changed
     */
    public RewindReport rewind(RewindPlan plan) throws ReplayRefusedException {
        String id = plan.applicationId();
        try (Admin admin = admin()) {
            // Checked again right before: an instance started since the plan would keep its old state.
            List<String> members = activeMembers(admin);
            if (!members.isEmpty()) {
                throw new ReplayRefusedException(refusal(new RewindPlan(id, plan.range(), plan.rewindTo(), members,
                        plan.positions(), plan.recordsToReread(), plan.internalTopics(), plan.localState(),
                        plan.localStatePresent(), plan.oldestMonthStillReceivingEvents())).orElseThrow());
            }
            // No --force: the tool itself refuses, too, if an instance joined in between.
            String[] args = {
                "--bootstrap-server", aggregator.bootstrapServers(),
                "--application-id", id,
                "--input-topics", String.join(",", InputLog.TOPICS),
                "--to-datetime", RESETTER_TIME.format(plan.rewindTo()),
            };
            LOG.info("rewinding aggregator {} to {} for {}", id, plan.rewindTo(), plan.range());
            int exit = new StreamsResetter().execute(args);
            if (exit != 0) {
                throw new IllegalStateException("Kafka's StreamsResetter could not rewind " + id + " (exit " + exit
                        + "; its reason is printed above)");
            }
            boolean removed = removeLocalState(plan.localState());
            Map<TopicPartition, Long> after = new HashMap<>();
            committed(admin).forEach((tp, at) -> after.put(tp, at.offset()));
            List<String> remaining = internalTopics(admin);
            List<String> deleted = plan.internalTopics().stream().filter(t -> !remaining.contains(t)).toList();
            LOG.info("aggregator {} rewound to {}: {} internal topics deleted, local state {}", id, plan.rewindTo(),
                    deleted.size(), removed ? "removed" : "not here");
            return new RewindReport(plan, after, deleted, removed);
        } catch (ExecutionException e) {
            throw new IllegalStateException("rewinding " + id + " failed: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("Kafka at " + aggregator.bootstrapServers() + " did not answer within 30 s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while rewinding " + id, e);
        }
    }

    /**
     * Members of the aggregator's group, whichever rebalance protocol it uses (classic or consumer group, or the
     * streams group of {@code group.protocol=streams}), as {@code client-id@host}.
     */
    private List<String> activeMembers(Admin admin) throws ExecutionException, InterruptedException, TimeoutException {
        String id = aggregator.applicationId();
        Optional<GroupListing> group = admin.listGroups().all().get(30, TimeUnit.SECONDS).stream()
                .filter(g -> g.groupId().equals(id)).findFirst();
        if (group.isEmpty()) {
            return List.of();
        }
        List<String> members = new ArrayList<>();
        if (group.get().type().orElse(GroupType.CLASSIC) == GroupType.STREAMS) {
            StreamsGroupDescription d = admin.describeStreamsGroups(List.of(id)).all().get(30, TimeUnit.SECONDS).get(id);
            d.members().forEach(m -> members.add(m.clientId() + "@" + m.clientHost()));
        } else {
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(id)).all().get(30, TimeUnit.SECONDS).get(id);
            d.members().forEach(m -> members.add(m.clientId() + "@" + m.host()));
        }
        return members;
    }

    private Map<TopicPartition, OffsetAndMetadata> committed(Admin admin)
            throws ExecutionException, InterruptedException, TimeoutException {
        Map<TopicPartition, OffsetAndMetadata> all = admin.listConsumerGroupOffsets(aggregator.applicationId())
                .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        Map<TopicPartition, OffsetAndMetadata> inputs = new HashMap<>();
        all.forEach((tp, at) -> {
            if (at != null && InputLog.TOPICS.contains(tp.topic())) {
                inputs.put(tp, at);
            }
        });
        return inputs;
    }

    /** The topics Kafka's reset tool deletes for this application: its changelogs and repartition topics. */
    private List<String> internalTopics(Admin admin) throws ExecutionException, InterruptedException, TimeoutException {
        return admin.listTopics().names().get(30, TimeUnit.SECONDS).stream()
                .filter(t -> t.startsWith(aggregator.applicationId() + "-") && StreamsResetter.matchesInternalTopicFormat(t))
                .sorted().toList();
    }

    /** What {@code KafkaStreams#cleanUp()} removes: the application's directory under the state directory. */
    private static boolean removeLocalState(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
            return true;
        } catch (IOException e) {
            throw new IllegalStateException("the aggregator was rewound, but its local state " + dir
                    + " could not be removed (" + e + "): remove it before starting the aggregator", e);
        }
    }

    private Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, aggregator.bootstrapServers()));
    }
}
