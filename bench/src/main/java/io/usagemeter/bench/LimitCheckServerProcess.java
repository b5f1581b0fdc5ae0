package io.usagemeter.bench;

import io.usagemeter.enforcer.EnforcerConfig;
import io.usagemeter.enforcer.EnforcerService;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The enforcer alone in its JVM, as {@code meter enforcer} runs it ({@link EnforcerService#create}, the default
 * configuration on a free port), for {@link LimitCheckProcessesBench}: the broker and PostgreSQL live elsewhere,
 * so this JVM's heap, GC and safepoints are the server's only. Prints {@code port N} once it listens and its store
 * holds the bench's usage; answers each line {@code gc} on its standard input with one line
 * {@code gc NAME=COUNT/MILLIS|…} (per collector as the JVM names its beans: collections and their
 * accumulated time since start; for ZGC the "Pauses" bean holds the pauses, the "Cycles" bean concurrent work); stops when its
 * standard input closes.
 *
 * <p>Arguments: Kafka bootstrap servers, the JDBC URL of the database holding the API keys and plans, its user,
 * the Kafka Streams state directory.
 */
public final class LimitCheckServerProcess {

    private LimitCheckServerProcess() {
    }

    public static void main(String[] args) throws Exception {
        EnforcerConfig config = EnforcerConfig.defaults(args[0], Path.of(args[3]), args[1], args[2], "").withPort(0);
        try (EnforcerService enforcer = EnforcerService.create(config).start()) {
            LimitCheckBench.awaitLoaded(enforcer, config, new UsageMix());
            System.out.println("port " + enforcer.port());
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                if (line.equals("gc")) {
                    StringBuilder answer = new StringBuilder("gc ");
                    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                        answer.append(gc.getName()).append('=').append(Math.max(0, gc.getCollectionCount()))
                                .append('/').append(Math.max(0, gc.getCollectionTime())).append('|');
                    }
                    System.out.println(answer);
                    System.out.flush();
                }
            }
        }
        System.exit(0);
    }
}
