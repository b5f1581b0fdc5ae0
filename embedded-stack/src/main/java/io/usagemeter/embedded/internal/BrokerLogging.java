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
