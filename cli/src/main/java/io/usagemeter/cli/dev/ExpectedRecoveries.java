package io.usagemeter.cli.dev;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.streams.errors.TaskCorruptedException;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * In the dev terminal, the recovery Kafka Streams goes through after an unclean stop (a
 * {@code kill -9}: exactly-once then distrusts the local stores and rebuilds them from their
 * changelogs) is one INFO line per recovery, not a dozen warnings and errors with stack traces
 * that read like a failure. Only the task-corruption path is touched; every other warning passes.
 *
 * <p>Also left out: the broker's ERROR, with a stack trace, for each batch it refuses under
 * transactions version 2 because an earlier batch of the same transaction is not in yet
 * ({@code Expected sequence 0 for transactions v2 idempotent producer with no existing state}, KAFKA-18202).
 * The producer sends the batch again; nothing is lost (docs/operations/kafka-transactions.md). A new
 * data directory's broker runs version 1 ({@link DevRunner#KAFKA_FEATURE_LEVELS}); one formatted earlier
 * keeps version 2.
 */
final class ExpectedRecoveries extends TurboFilter {

    private static final org.slf4j.Logger log = LoggerFactory.getLogger(ExpectedRecoveries.class);
    private static final String STREAMS = "org.apache.kafka.streams";
    private static final String REPLICA_MANAGER = "kafka.server.ReplicaManager";
    /** The words of the retriable refusal KAFKA-18202 added; any other sequence error still shows. */
    private static final String RETRIED_TV2_REFUSAL = "transactions v2 idempotent producer with no existing state";
    /**
     * The message Kafka Streams logs once it rebuilds the corrupted tasks: the one line shown, reworded.
     * Its loggers hand logback the message already formatted and prefixed ("stream-thread [...] "), so
     * the messages are matched inside, and the task list is read from the text.
     */
    private static final Pattern REBUILDING = Pattern.compile("Detected the states of tasks (\\[[^\\]]*\\]) are corrupted");
    /** The exception classes a "Get exceptions for the following tasks: {0_1=...}" message lists. */
    private static final Pattern LISTED_EXCEPTION = Pattern.compile("=([\\w.$]+(?:Exception|Error))");
    /** What it logs on the way there, each time the same recovery. */
    private static final List<String> ON_THE_WAY = List.of(
            "did not find checkpoint offsets while stores are not empty",
            "Failed to register startup state stores for task",
            "Encounter corrupted task",
            "Get exceptions for the following tasks");
    private static final Pattern STREAM_THREAD =
            Pattern.compile("^(.+)-\\p{XDigit}{8}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{4}-\\p{XDigit}{12}-StreamThread-\\d+$");

    /** Logger whose INFO lines the dev terminal shows (other INFO lines go to the log files only). */
    static String loggerName() {
        return log.getName();
    }

    @Override
    public FilterReply decide(Marker marker, Logger logger, Level level, String format, Object[] params, Throwable t) {
        if (level != null && level.isGreaterOrEqual(Level.WARN) && logger.getName().equals(REPLICA_MANAGER)
                && t instanceof OutOfOrderSequenceException && t.getMessage() != null
                && t.getMessage().contains(RETRIED_TV2_REFUSAL)) {
            return FilterReply.DENY;
        }
        if (format == null || level == null || !level.isGreaterOrEqual(Level.WARN) || !logger.getName().startsWith(STREAMS)) {
            return FilterReply.NEUTRAL;
        }
        Matcher rebuilding = REBUILDING.matcher(format);
        if (rebuilding.find() && onlyTaskCorruption(format, params, t)) {
            log.info("{}: local state of tasks {} not trusted after an unclean stop; rebuilding it from the changelog"
                    + " topics (expected under exactly-once after a kill)", application(), rebuilding.group(1));
            return FilterReply.DENY;
        }
        if (ON_THE_WAY.stream().anyMatch(format::contains) && onlyTaskCorruption(format, params, t)) {
            return FilterReply.DENY;
        }
        return FilterReply.NEUTRAL;
    }

    /** True when the event is about task corruption and carries no other failure. */
    private static boolean onlyTaskCorruption(String format, Object[] params, Throwable t) {
        if (t != null && !(t instanceof TaskCorruptedException)) {
            return false;
        }
        Matcher listed = LISTED_EXCEPTION.matcher(format);
        while (listed.find()) {
            if (!listed.group(1).equals(TaskCorruptedException.class.getName())) {
                return false;
            }
        }
        boolean aboutCorruption = t != null || format.contains("corrupted") || format.contains("checkpoint offsets");
        for (Object param : params == null ? new Object[0] : params) {
            if (param instanceof Throwable thrown && !(thrown instanceof TaskCorruptedException)) {
                return false;
            }
            if (param instanceof Map<?, ?> byTask
                    && !byTask.values().stream().allMatch(v -> v instanceof TaskCorruptedException)) {
                return false;
            }
            aboutCorruption |= param instanceof TaskCorruptedException || String.valueOf(param).contains("corrupted");
        }
        return aboutCorruption;
    }

    /** The Streams application id, from the name of the stream thread that logs. */
    private static String application() {
        Matcher m = STREAM_THREAD.matcher(Thread.currentThread().getName());
        return m.matches() ? m.group(1) : "a Kafka Streams application";
    }
}
