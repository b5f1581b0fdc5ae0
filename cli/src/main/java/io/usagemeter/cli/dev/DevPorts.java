package io.usagemeter.cli.dev;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;

/**
 * Where the dev stack listens, all derived from one base port so two stacks never collide when
 * their bases are 100 apart: Kafka {@code N}, PostgreSQL {@code N+1}, ingest {@code N+10},
 * enforcer {@code N+20}, aggregator metrics {@code N+30}, notifier {@code N+40}.
 */
public record DevPorts(int base) {

    public static final int DEFAULT_BASE = 7400;
    /** The highest offset used, so the base leaves room for it below 65536. */
    private static final int SPAN = 40;

    public DevPorts {
        if (base < 1024 || base + SPAN > 65_535) {
            throw new DevStackException("--port-base must be between 1024 and " + (65_535 - SPAN) + ", was " + base);
        }
    }

    public int kafka() {
        return base;
    }

    public int postgres() {
        return base + 1;
    }

    public int ingest() {
        return base + 10;
    }

    public int enforcer() {
        return base + 20;
    }

    public int aggregatorMetrics() {
        return base + 30;
    }

    public int notifier() {
        return base + 40;
    }

    /** A port and what wants it, for messages. */
    public record Use(int port, String wantedBy) {}

    /** The ports of everything this build starts. */
    public List<Use> uses(List<String> services) {
        var uses = new java.util.ArrayList<Use>(List.of(new Use(kafka(), "Kafka"), new Use(postgres(), "PostgreSQL")));
        if (services.contains(DevServices.INGEST)) {
            uses.add(new Use(ingest(), "ingest"));
        }
        if (services.contains(DevServices.ENFORCER)) {
            uses.add(new Use(enforcer(), "enforcer"));
        }
        if (services.contains(DevServices.AGGREGATOR)) {
            uses.add(new Use(aggregatorMetrics(), "aggregator metrics"));
        }
        if (services.contains(DevServices.NOTIFIER)) {
            uses.add(new Use(notifier(), "notifier"));
        }
        return List.copyOf(uses);
    }

    /** Fails with one line naming the first port already taken and what wanted it. */
    public static void requireFree(List<Use> uses) {
        for (Use use : uses) {
            if (!isFree(use.port())) {
                throw new DevStackException("port " + use.port() + " (" + use.wantedBy() + ") is in use: stop what"
                        + " listens there, or move the whole stack with --port-base (e.g. --port-base 7500)");
            }
        }
    }

    static boolean isFree(int port) {
        // The wildcard address: taken if anything listens on the port, on any interface.
        try (ServerSocket socket = new ServerSocket()) {
            socket.bind(new InetSocketAddress(port));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
