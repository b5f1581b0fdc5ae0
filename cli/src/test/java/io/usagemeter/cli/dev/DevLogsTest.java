package io.usagemeter.cli.dev;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.usagemeter.embedded.HangingTransactions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.internals.Sender;
import org.apache.kafka.common.utils.internals.LogContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code meter dev}'s logs: each line in the file of the part of the stack that wrote it, the terminal
 * (here a list appender on the root logger) showing errors and the one-line recoveries only, or every
 * line with {@code --verbose}; closing puts the terminal back.
 */
class DevLogsTest {

    private static final String AGGREGATOR_PRODUCER =
            "usage-meter-aggregator-7202640e-1f97-4453-b8d3-c666ce8a9479-StreamThread-1-producer";

    private final LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    private final ListAppender<ILoggingEvent> terminal = new ListAppender<>();
    private final Logger root = LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);

    @TempDir
    Path data;

    @BeforeEach
    void attachTerminal() {
        terminal.setContext(context);
        terminal.start();
        context.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(terminal);
    }

    @AfterEach
    void detachTerminal() {
        context.getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(terminal);
    }

    @Test
    void eachLineGoesToTheFileOfThePartThatWroteIt() {
        assertThat(DevLogs.fileOf(Sender.class.getName(), "kafka-producer-network-thread | " + AGGREGATOR_PRODUCER,
                "[Producer clientId=" + AGGREGATOR_PRODUCER + ", transactionalId=usage-meter-aggregator-0_1] Got error"))
                .isEqualTo("aggregator");
        assertThat(DevLogs.fileOf("org.apache.kafka.clients.consumer.internals.ConsumerCoordinator", "meter-usage-sink",
                "[Consumer clientId=meter-usage-sink, groupId=meter-usage-sink] Offset commit failed")).isEqualTo("aggregator");
        assertThat(DevLogs.fileOf("org.apache.kafka.clients.NetworkClient", "kafka-producer-network-thread | meter-ingest",
                "[Producer clientId=meter-ingest] Node -1 disconnected.")).isEqualTo("ingest");
        assertThat(DevLogs.fileOf("org.eclipse.jetty.server.HttpChannel", "enforcer-http-21", "oops")).isEqualTo("enforcer");
        assertThat(DevLogs.fileOf("io.usagemeter.notifier.internal.DeliveryDispatcher", "main", "x")).isEqualTo("notifier");
        // The broker's request handlers write about every client's transactions; the line is still the broker's.
        assertThat(DevLogs.fileOf("kafka.server.ReplicaManager", "data-plane-kafka-request-handler-1",
                "[ReplicaManager broker=0] Error processing append on usage-meter-aggregator-summaries-changelog-3"))
                .isEqualTo("kafka");
        assertThat(DevLogs.fileOf("org.apache.kafka.controller.QuorumController", "quorum-controller-0-event-handler", "x"))
                .isEqualTo("kafka");
        assertThat(DevLogs.fileOf("io.zonky.test.db.postgres.embedded.EmbeddedPostgres", "log:pid(4711)", "ready"))
                .isEqualTo("postgresql");
        assertThat(DevLogs.fileOf("io.usagemeter.cli.dev.DevRunner", "main", "dev stack stopped")).isEqualTo("meter");
        // Kafka Streams' start-up lines on the thread that starts a service are that service's.
        assertThat(DevLogs.fileOf("org.apache.kafka.streams.StreamsConfig", "main", "Processing exception handler is not"
                + " enabled for the GlobalThread", "enforcer")).isEqualTo("enforcer");
        assertThat(DevLogs.fileOf("org.apache.kafka.streams.processor.internals.StateDirectory", "replay-runner",
                "Using an OS temp directory in the state.dir property")).isEqualTo("aggregator");
    }

    @Test
    void kafkaClientWarningsGoToTheLogFileNotTheTerminalErrorsGoToBoth() throws Exception {
        try (DevLogs logs = DevLogs.install(data, false, null)) {
            inThread("kafka-producer-network-thread | " + AGGREGATOR_PRODUCER, () -> new LogContext(
                    "[Producer clientId=" + AGGREGATOR_PRODUCER + ", transactionalId=usage-meter-aggregator-0_1] ")
                    .logger(Sender.class)
                    .warn("Got error produce response with correlation id 81 on topic-partition {}, retrying. Error: {}",
                            "usage-meter-aggregator-summaries-changelog-3", "CONCURRENT_TRANSACTIONS"));
            LoggerFactory.getLogger("io.usagemeter.aggregator.AggregatorService").info("aggregator started");
            DevLogs.starting("enforcer", () -> {
                LoggerFactory.getLogger("org.apache.kafka.streams.StreamsConfig").warn("handler not enabled");
                return null;
            });
            LoggerFactory.getLogger("io.usagemeter.enforcer.EnforcerService").error("enforcer failed: {}", "disk full");
            LoggerFactory.getLogger(ExpectedRecoveries.loggerName()).info("local state of tasks [0_1] not trusted");
            LoggerFactory.getLogger("io.usagemeter.embedded.EmbeddedKafkaBroker").info("Embedded Kafka started");
            LoggerFactory.getLogger(HangingTransactions.LOGGER).info("ended a transaction an unclean stop left open");
        }

        assertThat(terminal.list).extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly("enforcer failed: disk full", "local state of tasks [0_1] not trusted",
                        "ended a transaction an unclean stop left open");
        String aggregatorLog = Files.readString(data.resolve("logs").resolve("aggregator.log"));
        assertThat(aggregatorLog).contains(" WARN ").contains("CONCURRENT_TRANSACTIONS").contains(" INFO ")
                .contains("aggregator started");
        assertThat(Files.readString(data.resolve("logs").resolve("enforcer.log"))).contains(" ERROR ")
                .contains("enforcer failed: disk full").contains("handler not enabled");
        assertThat(Files.readString(data.resolve("logs").resolve("meter.log"))).contains("not trusted");
    }

    @Test
    void verboseShowsEveryLineOnTheTerminalTooAndClosingPutsTheTerminalBack() throws Exception {
        Level ownLevelBefore = context.getLogger("io.usagemeter").getLevel();
        try (DevLogs logs = DevLogs.install(data, true, "DEBUG")) {
            LoggerFactory.getLogger("org.apache.kafka.clients.NetworkClient").warn("Node -1 disconnected.");
            LoggerFactory.getLogger("io.usagemeter.ingest.IngestService").debug("ingest started");
        }
        assertThat(terminal.list).extracting(ILoggingEvent::getFormattedMessage)
                .containsExactly("Node -1 disconnected.", "ingest started");
        assertThat(context.getLogger("io.usagemeter").getLevel()).isEqualTo(ownLevelBefore);
        assertThat(Files.readString(data.resolve("logs").resolve("kafka.log"))).contains("Node -1 disconnected.");

        terminal.list.clear();
        root.warn("after the dev stack");
        assertThat(terminal.list).extracting(ILoggingEvent::getFormattedMessage).containsExactly("after the dev stack");
        assertThat(data.resolve("logs").resolve("meter.log")).as("nothing logged to files after close").doesNotExist();
    }

    private static void inThread(String name, Runnable body) throws InterruptedException {
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread t = new Thread(body, name);
        t.setUncaughtExceptionHandler((thread, e) -> failed.set(e));
        t.start();
        t.join();
        assertThat(failed.get()).isNull();
    }
}
