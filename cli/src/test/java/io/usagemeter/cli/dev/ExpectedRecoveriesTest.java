package io.usagemeter.cli.dev;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.utils.internals.LogContext;
import org.apache.kafka.streams.errors.TaskCorruptedException;
import org.apache.kafka.streams.processor.TaskId;
import org.apache.kafka.streams.processor.internals.StreamThread;
import org.apache.kafka.streams.processor.internals.TaskManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kafka Streams' task-corruption recovery, logged through Kafka's own {@link LogContext} loggers as
 * a stream thread logs it (messages as Kafka 4.4 writes them), becomes one INFO line; other warnings pass.
 */
class ExpectedRecoveriesTest {

    private static final String THREAD = "usage-meter-aggregator-7202640e-1f97-4453-b8d3-c666ce8a9479-StreamThread-1";
    private final LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    private final ExpectedRecoveries filter = new ExpectedRecoveries();
    private final ListAppender<ILoggingEvent> seen = new ListAppender<>();

    @BeforeEach
    void install() {
        filter.setContext(context);
        filter.start();
        context.addTurboFilter(filter);
        context.getLogger(ExpectedRecoveries.loggerName()).setLevel(Level.INFO);
        seen.setContext(context);
        seen.start();
        context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(seen);
    }

    @AfterEach
    void remove() {
        context.getTurboFilterList().remove(filter);
        context.getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(seen);
    }

    @Test
    void theRecoveryIsOneInfoLineNamingTheApplicationAndTasks() throws Exception {
        Set<TaskId> tasks = Set.of(new TaskId(0, 1));
        TaskCorruptedException corrupted = new TaskCorruptedException(tasks);
        inStreamThread(() -> {
            org.slf4j.Logger streamThread = new LogContext("stream-thread [" + THREAD + "] ").logger(StreamThread.class);
            org.slf4j.Logger taskManager = new LogContext("stream-thread [" + THREAD + "] ").logger(TaskManager.class);
            taskManager.error("Get exceptions for the following tasks: {}", Map.of(new TaskId(0, 1), corrupted));
            taskManager.warn("Encounter corrupted task {}, will group it with other corrupted tasks and handle together",
                    new TaskId(0, 1), corrupted);
            streamThread.warn("Detected the states of tasks {} are corrupted. Will close the task as dirty and re-create and "
                    + "bootstrap from scratch.", tasks, corrupted);
        });

        assertThat(seen.list).singleElement().satisfies(event -> {
            assertThat(event.getLevel()).isEqualTo(Level.INFO);
            assertThat(event.getThrowableProxy()).isNull();
            assertThat(event.getFormattedMessage()).startsWith("usage-meter-aggregator: local state of tasks [0_1] not trusted");
        });
    }

    /** The broker refusing a batch that came before the first of its transaction (retried by the producer) is not shown; other sequence errors are. */
    @Test
    void theBrokersRetriedTransactionsV2RefusalIsLeftOutOtherSequenceErrorsShow() {
        Logger replicaManager = LoggerFactory.getLogger("kafka.server.ReplicaManager");
        replicaManager.error("Error processing append operation on partition usage-meter-aggregator-summaries-changelog-3",
                new OutOfOrderSequenceException("Out of order sequence number for producer 7 at offset 120 in partition "
                        + "usage-meter-aggregator-summaries-changelog-3: 4 (incoming seq. number), -1 (current end sequence "
                        + "number). Expected sequence 0 for transactions v2 idempotent producer with no existing state"));
        assertThat(seen.list).isEmpty();

        replicaManager.error("Error processing append operation on partition meter.usage-events-0",
                new OutOfOrderSequenceException("Out of order sequence number for producer 9 at offset 548171 in partition "
                        + "meter.usage-events-0: 51 (incoming seq. number), 49 (current end sequence number)"));
        assertThat(seen.list).singleElement().satisfies(event -> assertThat(event.getThrowableProxy()).isNotNull());
    }

    @Test
    void otherFailuresOfTheSameTasksStillShowWithTheirStackTrace() throws Exception {
        IllegalStateException other = new IllegalStateException("disk full");
        inStreamThread(() -> {
            org.slf4j.Logger taskManager = new LogContext("stream-thread [" + THREAD + "] ").logger(TaskManager.class);
            taskManager.error("Get exceptions for the following tasks: {}", Map.of(new TaskId(0, 1),
                    new TaskCorruptedException(Set.of(new TaskId(0, 1))), new TaskId(0, 2), other));
            taskManager.warn("Encounter corrupted task {}, will group it with other corrupted tasks and handle together",
                    new TaskId(0, 2), other);
            LoggerFactory.getLogger(StreamThread.class).warn("some other warning");
        });

        assertThat(seen.list).hasSize(3).extracting(ILoggingEvent::getLevel).containsExactly(Level.ERROR, Level.WARN, Level.WARN);
        assertThat(seen.list.get(1).getThrowableProxy().getMessage()).isEqualTo("disk full");
    }

    private static void inStreamThread(Runnable logging) throws InterruptedException {
        Thread thread = new Thread(logging, THREAD);
        thread.start();
        thread.join();
    }
}
