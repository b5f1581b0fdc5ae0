package io.usagemeter.bench;

import io.usagemeter.ingest.IngestConfig;
import io.usagemeter.ingest.IngestService;
import java.io.InputStream;

/**
 * The ingest service alone in its JVM, as {@code meter ingest} runs it ({@link IngestService#create}, the
 * default configuration on a free port), for {@link IngestProcessesBench}. Prints {@code port N} once it
 * listens, and stops when its standard input closes.
 *
 * <p>Arguments: Kafka bootstrap servers, the JDBC URL of the database holding the API keys, its user.
 */
public final class IngestServerProcess {

    private IngestServerProcess() {
    }

    public static void main(String[] args) throws Exception {
        IngestConfig config = IngestConfig.defaults(args[0], args[1], args[2], "").withPort(0);
        try (IngestService service = IngestService.create(config).start()) {
            System.out.println("port " + service.port());
            System.out.flush();
            InputStream in = System.in;
            while (in.read() >= 0) {
                // Runs until the bench closes this process's standard input.
            }
        }
        System.exit(0);
    }
}
