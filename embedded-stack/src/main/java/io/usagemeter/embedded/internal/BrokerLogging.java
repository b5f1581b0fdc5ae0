package io.usagemeter.embedded.internal;

import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * An in-process broker logs a lot at INFO (every partition, every config dump). When the
 * application logs through Logback, the broker's loggers default to WARN; a level configured
 * explicitly (e.g. {@code <logger name="kafka" level="INFO"/>}) is left alone.
 */
public final class BrokerLogging {

    private static final List<String> BROKER_LOGGERS = List.of(
            "kafka", "state.change.logger",
            "org.apache.kafka.server", "org.apache.kafka.raft", "org.apache.kafka.controller",
            "org.apache.kafka.metadata", "org.apache.kafka.image", "org.apache.kafka.storage",
            "org.apache.kafka.coordinator", "org.apache.kafka.queue", "org.apache.kafka.snapshot",
            "org.apache.kafka.security", "org.apache.kafka.network", "org.apache.kafka.common.network",
            "org.apache.kafka.common.security", "org.apache.kafka.common.utils.AppInfoParser",
            "org.apache.kafka.logger", "org.apache.kafka.tools");

    private BrokerLogging() {
    }

    /** The logger of Kafka's fault handler that ends the process ({@code ProcessTerminatingFaultHandler}). */
    private static final String FATAL_FAULT_LOGGER = "org.apache.kafka.server.fault.ProcessTerminatingFaultHandler";
    private static final String FATAL_FAULT_PREFIX = "Encountered fatal fault: ";

    /**
     * Remembers the fatal faults Kafka logs, with their root cause, for {@link BrokerFaults}: the halt
     * that follows carries no reason of its own.
     */
    static synchronized void captureFatalFaults() {
        try {
            if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
                ch.qos.logback.classic.Logger logger = context.getLogger(FATAL_FAULT_LOGGER);
                if (logger.getAppender(FATAL_FAULT_LOGGER) == null) {
                    var capture = new ch.qos.logback.core.AppenderBase<ch.qos.logback.classic.spi.ILoggingEvent>() {
                        @Override
                        protected void append(ch.qos.logback.classic.spi.ILoggingEvent event) {
                            BrokerFaults.faultLogged(describe(event));
                        }
                    };
                    capture.setName(FATAL_FAULT_LOGGER);
                    capture.setContext(context);
                    capture.start();
                    logger.addAppender(capture);
                }
            }
        } catch (NoClassDefFoundError logbackAbsent) {
            // The halt is still reported, without Kafka's words for the fault.
        }
    }

    private static String describe(ch.qos.logback.classic.spi.ILoggingEvent event) {
        String message = event.getFormattedMessage();
        if (message != null && message.startsWith(FATAL_FAULT_PREFIX)) {
            message = message.substring(FATAL_FAULT_PREFIX.length());
        }
        ch.qos.logback.classic.spi.IThrowableProxy cause = event.getThrowableProxy();
        if (cause == null) {
            return message;
        }
        while (cause.getCause() != null) {
            cause = cause.getCause();
        }
        String type = cause.getClassName().substring(cause.getClassName().lastIndexOf('.') + 1);
        return message + ": " + type + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
    }

    public static void quietByDefault() {
        try {
            if (LoggerFactory.getILoggerFactory() instanceof ch.qos.logback.classic.LoggerContext context) {
                for (String name : BROKER_LOGGERS) {
                    ch.qos.logback.classic.Logger logger = context.getLogger(name);
                    if (logger.getLevel() == null) {
                        logger.setLevel(ch.qos.logback.classic.Level.WARN);
                    }
                }
            }
        } catch (NoClassDefFoundError logbackAbsent) {
            // Another SLF4J backend: its own configuration decides.
        }
    }
}
