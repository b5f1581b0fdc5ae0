package io.usagemeter.embedded;

/**
 * One embedded broker per JVM, shared by every test class of a module: started on first use,
 * stopped by a shutdown hook. Test classes must not close it; they isolate themselves by topic
 * names (or consumer group ids) of their own.
 */
public final class SharedEmbeddedKafka {

    private static EmbeddedKafkaBroker broker;

    private SharedEmbeddedKafka() {
    }

    /** The running shared broker, started on the first call. */
    public static synchronized EmbeddedKafkaBroker get() {
        if (broker == null) {
            EmbeddedKafkaBroker started = EmbeddedKafkaBroker.start();
            Runtime.getRuntime().addShutdownHook(new Thread(started::close, "shared-embedded-kafka-shutdown"));
            broker = started;
        }
        return broker;
    }

    /** Shortcut for {@code get().bootstrapServers()}. */
    public static String bootstrapServers() {
        return get().bootstrapServers();
    }
}
