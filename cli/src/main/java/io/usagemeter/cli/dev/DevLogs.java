package io.usagemeter.cli.dev;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import ch.qos.logback.core.FileAppender;
import io.usagemeter.embedded.HangingTransactions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Where {@code meter dev} logs: every line into a file per part of the stack under {@code <data>/logs/}
 * ({@code kafka.log}, {@code postgresql.log}, {@code ingest.log}, {@code aggregator.log},
 * {@code enforcer.log}, {@code notifier.log}, and {@code meter.log} for the dev runner itself); the
 * terminal (whatever the root logger wrote to before: stderr) keeps the banner and the demo, and shows
 * only errors, the dev runner's own warnings, the one-line notes of {@link ExpectedRecoveries} and the
 * broker's note of each transaction it ended after an unclean stop ({@link HangingTransactions}). With
 * {@code --verbose} the terminal shows every log line too. {@link #close()} puts the logging back as it
 * was (tests run the stack inside their own JVM).
 */
final class DevLogs implements AutoCloseable {

    static final String DIRECTORY = "logs";
    static final String KAFKA = "kafka";
    static final String POSTGRESQL = "postgresql";
    static final String DEV_RUNNER = "meter";
    private static final String PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread] %logger{36} - %msg%n";
    private static final String OWN_LOGGERS = "io.usagemeter";
    private static final String DEV_RUNNER_LOGGERS = "io.usagemeter.cli";
    private static final String POSTGRES_LOGGERS = "io.zonky.test.db.postgres";
    /** MDC key: the service whose start the logging thread is running. */
    private static final String STARTING = "meter.dev.starting";

    /** Part of the stack → words that name it in a package, a thread name or a Kafka client's log prefix. */
    private static final Map<String, List<String>> SERVICES = Map.of(
            DevServices.INGEST, List.of("ingest"),
            DevServices.AGGREGATOR, List.of("aggregator", "usage-sink", "replay"),
            DevServices.ENFORCER, List.of("enforcer"),
            DevServices.NOTIFIER, List.of("notifier", "webhook"));
    private static final List<String> SERVICE_ORDER =
            List.of(DevServices.NOTIFIER, DevServices.ENFORCER, DevServices.AGGREGATOR, DevServices.INGEST);

    private final LoggerContext context;
    private final Path directory;
    private final Logger root;
    /** The root logger's appenders before: the terminal. */
    private final List<Appender<ILoggingEvent>> terminal = new ArrayList<>();
    private final Map<String, FileAppender<ILoggingEvent>> files = new ConcurrentHashMap<>();
    /** Levels changed for the dev stack, as they were before (a {@code null} level inherits). */
    private final Map<String, Level> levelsBefore = new HashMap<>();
    private final Router router = new Router();

    private DevLogs(LoggerContext context, Path directory) {
        this.context = context;
        this.directory = directory;
        this.root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    }

    /**
     * Sends the logs to files under {@code dataDir}; the terminal shows every line when {@code verbose}.
     *
     * @param ownLevel the level of our own loggers ({@code METER_LOG_LEVEL}), or {@code null} for INFO
     */
    static DevLogs install(Path dataDir, boolean verbose, String ownLevel) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
            return new DevLogs(null, dataDir.resolve(DIRECTORY));
        }
        DevLogs logs = new DevLogs(context, dataDir.resolve(DIRECTORY));
        logs.setLevel(OWN_LOGGERS, ownLevel == null ? Level.INFO : Level.toLevel(ownLevel, Level.INFO));
        logs.setLevel(POSTGRES_LOGGERS, Level.INFO);
        for (Iterator<Appender<ILoggingEvent>> it = logs.root.iteratorForAppenders(); it.hasNext(); ) {
            logs.terminal.add(it.next());
        }
        logs.terminal.forEach(logs.root::detachAppender);
        logs.router.verbose = verbose;
        logs.router.setContext(context);
        logs.router.setName("meter-dev-logs");
        logs.router.start();
        logs.root.addAppender(logs.router);
        return logs;
    }

    Path directory() {
        return directory;
    }

    /**
     * Runs {@code start} with the lines it logs on this thread (Kafka Streams' and the clients' start-up
     * warnings, for instance) going to {@code service}'s file.
     */
    static <T> T starting(String service, Callable<T> start) throws Exception {
        try (MDC.MDCCloseable ignored = MDC.putCloseable(STARTING, service)) {
            return start.call();
        }
    }

    /** The file (without {@code .log}) a log line goes to. */
    static String fileOf(String loggerName, String threadName, String message) {
        return fileOf(loggerName, threadName, message, null);
    }

    /** @param starting the service being started on the logging thread, or {@code null} */
    static String fileOf(String loggerName, String threadName, String message, String starting) {
        for (String service : SERVICE_ORDER) {
            if (loggerName.startsWith(OWN_LOGGERS + "." + service)) {
                return service;
            }
        }
        if (loggerName.startsWith("io.zonky")) {
            return POSTGRESQL;
        }
        if (starting != null) {
            return starting;
        }
        // Kafka's clients prefix their messages with their client id ("[Producer clientId=usage-meter-aggregator-...] "),
        // and the services name their threads; the broker's threads name no service.
        String where = threadName + (loggerName.startsWith("org.apache.kafka.") ? " " + clientPrefix(message) : "");
        for (String service : SERVICE_ORDER) {
            if (SERVICES.get(service).stream().anyMatch(where::contains)) {
                return service;
            }
        }
        if (loggerName.startsWith("kafka") || loggerName.startsWith("org.apache.kafka") || loggerName.equals("state.change.logger")) {
            return KAFKA;
        }
        return DEV_RUNNER;
    }

    /** True for the lines the terminal shows when not verbose. */
    static boolean forTerminal(ILoggingEvent event) {
        Level level = event.getLevel();
        return level.isGreaterOrEqual(Level.ERROR)
                || level.isGreaterOrEqual(Level.WARN) && event.getLoggerName().startsWith(DEV_RUNNER_LOGGERS)
                || event.getLoggerName().equals(ExpectedRecoveries.loggerName())
                || event.getLoggerName().equals(HangingTransactions.LOGGER);
    }

    private static String clientPrefix(String message) {
        if (message == null || !message.startsWith("[")) {
            return "";
        }
        int end = message.indexOf(']');
        return end < 0 ? "" : message.substring(0, end);
    }

    private void setLevel(String logger, Level level) {
        Logger l = context.getLogger(logger);
        if (!levelsBefore.containsKey(logger)) {
            levelsBefore.put(logger, l.getLevel());
        }
        l.setLevel(level);
    }

    private FileAppender<ILoggingEvent> file(String name) {
        return files.computeIfAbsent(name, n -> {
            PatternLayoutEncoder encoder = new PatternLayoutEncoder();
            encoder.setContext(context);
            encoder.setPattern(PATTERN);
            encoder.start();
            FileAppender<ILoggingEvent> file = new FileAppender<>();
            file.setContext(context);
            file.setName("meter-dev-" + n);
            file.setFile(directory.resolve(n + ".log").toString());
            file.setAppend(true);
            file.setEncoder(encoder);
            file.start();
            return file;
        });
    }

    @Override
    public void close() {
        if (context == null) {
            return;
        }
        root.detachAppender(router);
        router.stop();
        terminal.forEach(root::addAppender);
        files.values().forEach(FileAppender::stop);
        levelsBefore.forEach((logger, level) -> context.getLogger(logger).setLevel(level));
    }

    /** Every line to its file; to the terminal when verbose or when {@link #forTerminal} says so. */
    private final class Router extends UnsynchronizedAppenderBase<ILoggingEvent> {
        private volatile boolean verbose;

        @Override
        protected void append(ILoggingEvent event) {
            file(fileOf(event.getLoggerName(), event.getThreadName(), event.getMessage(),
                    event.getMDCPropertyMap().get(STARTING))).doAppend(event);
            if (verbose || forTerminal(event)) {
                for (Appender<ILoggingEvent> appender : terminal) {
                    appender.doAppend(event);
                }
            }
        }
    }
}
