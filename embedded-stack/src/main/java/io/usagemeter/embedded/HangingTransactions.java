package io.usagemeter.embedded;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.requests.TransactionResult;
import org.apache.kafka.common.requests.WriteTxnMarkersRequest;
import org.apache.kafka.common.requests.WriteTxnMarkersResponse;

/**
 * Ends the transactions that a single-node broker, killed mid-commit, leaves open on its partitions
 * although its transaction coordinator has already decided them (docs/operations/kafka-transactions.md).
 *
 * <p>A killed combined broker and controller restarts with its last metadata: for a few seconds it
 * leads every partition at the old leader epoch, loads its transaction coordinators and queues the
 * markers of each transaction it had prepared, but it does not serve its own listener yet. When the
 * controller fences the old registration, the coordinator finds no leader for those partitions, drops
 * their markers as if the partitions were deleted and writes the transaction complete. Readers that
 * read committed data then wait at that transaction forever: a Kafka Streams store never finishes
 * restoring, an offset fetch never answers.
 *
 * <p>This writes the marker the coordinator decided, taken from its own state: a partition holds an
 * open transaction of producer <i>p</i> at epoch <i>e</i>, and the coordinator lists <i>p</i>'s
 * transaction as {@code CompleteCommit} (or {@code CompleteAbort}) at epoch <i>e</i> (transactions
 * version 1) or <i>e</i> + 1 (version 2, which bumps the epoch at each end). Anything else is left
 * alone: an {@code Ongoing} transaction is a killed producer's, which its restart or its timeout
 * aborts; a {@code Prepare*} one is being completed by the coordinator; one whose producer has
 * started over says nothing about the old transaction's outcome. Run it before any transactional
 * producer uses the broker: with live producers on transactions version 1, a new transaction at the
 * same epoch could look decided.
 */
public final class HangingTransactions {

    /** What was ended or found undecided is logged here (one line each), so a terminal can show just that. */
    public static final String LOGGER = HangingTransactions.class.getName();

    /** One transaction ended here: the marker written and the partitions it closed. */
    public record Completion(String transactionalId, long producerId, short producerEpoch,
                             TransactionResult result, List<TopicPartition> partitions) {

        @Override
        public String toString() {
            return result + " of " + transactionalId + " (producer " + producerId + ", epoch " + producerEpoch + ") on "
                    + partitions.size() + " partition" + (partitions.size() == 1 ? "" : "s") + ": "
                    + partitions.stream().map(TopicPartition::toString).sorted().collect(Collectors.joining(", "));
        }
    }

    /** A partition's open transaction, as the partition's leader describes it. */
    public record Open(TopicPartition partition, long producerId, short producerEpoch, int coordinatorEpoch, long startOffset) {
    }

    /** A transaction left open whose outcome the coordinator does not tell; it is reported, not touched. */
    public record Undecided(Open open, String coordinatorSays) {
    }

    public record Outcome(List<Completion> completed, List<Undecided> undecided) {
    }

    private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration SETTLE_POLL = Duration.ofMillis(250);
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

    private HangingTransactions() {
    }

    /**
     * Ends every transaction left open that the coordinator has already decided. Right after a start,
     * partitions may still be without a leader and coordinators still loading, and the coordinator may
     * be completing some transactions itself ({@code Prepare*}): passes repeat, up to 30 s, until one
     * over every partition finds nothing left to end or wait for.
     */
    public static Outcome complete(Admin admin) throws InterruptedException {
        // Version 2 ends each transaction with the epoch one past the transaction's own.
        int endEpochStep = transactionsVersion(admin) >= 2 ? 1 : 0;
        List<Completion> completed = new ArrayList<>();
        long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
        while (true) {
            boolean lastTry = System.nanoTime() > deadline;
            Pass pass;
            try {
                pass = pass(admin, endEpochStep, lastTry);
            } catch (IllegalStateException notYet) {
                if (lastTry) {
                    throw notYet;
                }
                Thread.sleep(SETTLE_POLL.toMillis());
                continue;
            }
            completed.addAll(pass.completed());
            if (pass.done() || lastTry) {
                return new Outcome(completed, pass.undecided());
            }
            if (pass.completed().isEmpty()) {
                Thread.sleep(SETTLE_POLL.toMillis());
            }
        }
    }

    /** One look at every partition; {@code done} when it ended nothing and waits for nothing. */
    private record Pass(List<Completion> completed, List<Undecided> undecided, boolean done) {
    }

    private static Pass pass(Admin admin, int endEpochStep, boolean lastTry) throws InterruptedException {
        Leaders leaders = leaders(admin);
        Map<TopicPartition, Open> open = openTransactions(admin, leaders.byPartition().keySet());
        if (open.isEmpty()) {
            return new Pass(List.of(), List.of(), leaders.leaderless() == 0);
        }
        Map<Long, Described> coordinator = describeByProducer(admin, producerIds(open.values()));
        // Read again after the coordinator: a transaction open before and after its coordinator said it
        // was complete is one whose markers never came (the same start offset: the same transaction).
        Map<TopicPartition, Open> stillOpen = openTransactions(admin, open.keySet());
        Map<Decision, List<Open>> decided = new LinkedHashMap<>();
        List<Undecided> undecided = new ArrayList<>();
        boolean waiting = leaders.leaderless() > 0;
        for (Open before : open.values()) {
            if (!before.equals(stillOpen.get(before.partition()))) {
                continue; // ended meanwhile, or a live producer's next transaction
            }
            Described described = coordinator.get(before.producerId());
            if (described == null) {
                // A coordinator still loading its partition after the start lists nothing yet.
                if (lastTry) {
                    undecided.add(new Undecided(before, "no transactional id with this producer id"));
                }
                waiting = true;
                continue;
            }
            TransactionDescription description = described.description();
            TransactionState state = description.state();
            if (state == TransactionState.PREPARE_COMMIT || state == TransactionState.PREPARE_ABORT
                    || state == TransactionState.PREPARE_EPOCH_FENCE) {
                waiting = true;
                continue;
            }
            if (state == TransactionState.ONGOING && description.producerEpoch() == before.producerEpoch()) {
                continue;
            }
            boolean sameTransaction = description.producerEpoch() == before.producerEpoch() + endEpochStep;
            if (sameTransaction && (state == TransactionState.COMPLETE_COMMIT || state == TransactionState.COMPLETE_ABORT)) {
                TransactionResult result = state == TransactionState.COMPLETE_COMMIT
                        ? TransactionResult.COMMIT : TransactionResult.ABORT;
                decided.computeIfAbsent(new Decision(described.transactionalId(), before.producerId(),
                        (short) description.producerEpoch(), result), d -> new ArrayList<>()).add(before);
            } else {
                undecided.add(new Undecided(before, state + " at epoch " + description.producerEpoch()));
            }
        }
        List<Completion> completed = new ArrayList<>();
        for (Map.Entry<Decision, List<Open>> entry : decided.entrySet()) {
            completed.add(writeMarkers(entry.getKey(), entry.getValue(), leaders.byPartition()));
        }
        return new Pass(completed, undecided, completed.isEmpty() && !waiting);
    }

    private record Decision(String transactionalId, long producerId, short producerEpoch, TransactionResult result) {
    }

    private static short transactionsVersion(Admin admin) throws InterruptedException {
        var finalized = get(admin.describeFeatures().featureMetadata()).finalizedFeatures().get("transaction.version");
        return finalized == null ? 0 : finalized.maxVersionLevel();
    }

    /** Each partition's leader; right after a start some partitions may have none yet. */
    private record Leaders(Map<TopicPartition, Node> byPartition, int leaderless) {
    }

    private static Leaders leaders(Admin admin) throws InterruptedException {
        Set<String> topics = get(admin.listTopics(new ListTopicsOptions().listInternal(true)).names());
        Map<String, TopicDescription> descriptions = get(admin.describeTopics(topics).allTopicNames());
        Map<TopicPartition, Node> leaders = new HashMap<>();
        int leaderless = 0;
        for (TopicDescription topic : descriptions.values()) {
            for (TopicPartitionInfo partition : topic.partitions()) {
                if (partition.leader() != null && !partition.leader().isEmpty()) {
                    leaders.put(new TopicPartition(topic.name(), partition.partition()), partition.leader());
                } else {
                    leaderless++;
                }
            }
        }
        return new Leaders(leaders, leaderless);
    }

    private static Map<TopicPartition, Open> openTransactions(Admin admin, Collection<TopicPartition> partitions)
            throws InterruptedException {
        Map<TopicPartition, Open> open = new HashMap<>();
        if (partitions.isEmpty()) {
            return open;
        }
        var states = get(admin.describeProducers(partitions).all());
        states.forEach((partition, state) -> {
            for (ProducerState producer : state.activeProducers()) {
                if (producer.currentTransactionStartOffset().isPresent()) {
                    open.put(partition, new Open(partition, producer.producerId(), (short) producer.producerEpoch(),
                            producer.coordinatorEpoch().orElse(0), producer.currentTransactionStartOffset().getAsLong()));
                }
            }
        });
        return open;
    }

    private static Set<Long> producerIds(Collection<Open> open) {
        return open.stream().map(Open::producerId).collect(Collectors.toSet());
    }

    private record Described(String transactionalId, TransactionDescription description) {
    }

    private static Map<Long, Described> describeByProducer(Admin admin, Set<Long> producerIds)
            throws InterruptedException {
        Collection<TransactionListing> listings = get(admin.listTransactions(
                new ListTransactionsOptions().filterProducerIds(producerIds)).all());
        if (listings.isEmpty()) {
            return Map.of();
        }
        Map<String, TransactionDescription> described = get(admin.describeTransactions(
                listings.stream().map(TransactionListing::transactionalId).toList()).all());
        Map<Long, Described> byProducer = new HashMap<>();
        described.forEach((id, description) -> byProducer.put(description.producerId(), new Described(id, description)));
        return byProducer;
    }

    private static Completion writeMarkers(Decision decision, List<Open> open, Map<TopicPartition, Node> leaders) {
        List<TopicPartition> partitions = open.stream().map(Open::partition).toList();
        Map<Node, List<TopicPartition>> byLeader = partitions.stream()
                .collect(Collectors.groupingBy(leaders::get, LinkedHashMap::new, Collectors.toList()));
        // A marker's epochs may not be below the partition's: its producer epoch (the coordinator's is the
        // transaction's or one past) and the last coordinator epoch it saw from this producer's coordinator,
        // which is never above that coordinator's current epoch, so the highest of them fences nothing.
        int coordinatorEpoch = open.stream().mapToInt(Open::coordinatorEpoch).max().orElse(0);
        for (Map.Entry<Node, List<TopicPartition>> entry : byLeader.entrySet()) {
            var marker = new WriteTxnMarkersRequest.TxnMarkerEntry(decision.producerId(), decision.producerEpoch(),
                    coordinatorEpoch, decision.result(), entry.getValue(), (short) 0);
            WriteTxnMarkersResponse response = send(entry.getKey(), new WriteTxnMarkersRequest.Builder(List.of(marker)));
            Map<TopicPartition, Errors> errors = response.errorsByProducerId().getOrDefault(decision.producerId(), Map.of());
            Map<TopicPartition, Errors> failed = errors.entrySet().stream()
                    .filter(e -> e.getValue() != Errors.NONE)
                    .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
            if (!failed.isEmpty()) {
                throw new IllegalStateException("the broker refused the " + decision.result() + " marker of "
                        + decision.transactionalId() + ": " + failed);
            }
        }
        return new Completion(decision.transactionalId(), decision.producerId(), decision.producerEpoch(),
                decision.result(), partitions);
    }

    /** WriteTxnMarkers is the coordinator's request to partition leaders; {@code Admin} sends it only to abort. */
    private static WriteTxnMarkersResponse send(Node leader, WriteTxnMarkersRequest.Builder builder) {
        return (WriteTxnMarkersResponse) KafkaWire.exchange(leader, ApiKeys.WRITE_TXN_MARKERS,
                ApiKeys.WRITE_TXN_MARKERS.latestVersion(false), builder);
    }

    private static <T> T get(org.apache.kafka.common.KafkaFuture<T> future) throws InterruptedException {
        try {
            return future.get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new IllegalStateException("could not read the broker's transactions: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the broker did not describe its transactions within "
                    + CALL_TIMEOUT.toSeconds() + " s", e);
        }
    }
}
