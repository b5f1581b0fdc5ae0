package io.usagemeter.cli.dev;

import io.usagemeter.kit.HttpLimits;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * How many connections each HTTP service of the dev stack may hold. Every client connection costs
 * a file descriptor of this one process, and so do the broker's log segments and sockets, the JDBC
 * connections to PostgreSQL and RocksDB's files; when the broker cannot open a file it halts. So the
 * HTTP servers together get at most a quarter of the process's open-files limit, each at most
 * the HTTP kit's default ({@link HttpLimits#DEFAULT_MAX_CONNECTIONS}), and the rest stays for the stack.
 *
 * <p>{@code METER_HTTP_MAX_CONNECTIONS} set by the user is passed on as it is, with a warning when
 * the servers together could then take more than half of the limit.
 *
 * @param openFilesLimit the process's limit, empty where the JVM cannot tell
 * @param perService the cap each HTTP service gets
 * @param chosenByUser the cap came from {@code METER_HTTP_MAX_CONNECTIONS}
 * @param services how many HTTP services share the budget
 */
record ConnectionBudget(OptionalLong openFilesLimit, int perService, boolean chosenByUser, int services) {

    static final String MAX_CONNECTIONS = "METER_HTTP_MAX_CONNECTIONS";
    /** The services' own default: {@code meter dev} lowers the cap below it, never raises it above. */
    static final int DEFAULT_PER_SERVICE = HttpLimits.DEFAULT_MAX_CONNECTIONS;
    static final int MIN_PER_SERVICE = 16;
    /** Below this the stack itself is short of descriptors, whatever the HTTP servers take. */
    static final long LOW_LIMIT = 4096;

    static ConnectionBudget of(OptionalLong openFilesLimit, int services, Map<String, String> env) {
        String chosen = env.get(MAX_CONNECTIONS);
        if (chosen != null && !chosen.isBlank()) {
            int perService;
            try {
                perService = Integer.parseInt(chosen.strip());
            } catch (NumberFormatException e) {
                throw new DevStackException(MAX_CONNECTIONS + " must be a whole number of connections, was '" + chosen + "'");
            }
            if (perService < 1) {
                throw new DevStackException(MAX_CONNECTIONS + " must be at least 1, was " + perService);
            }
            return new ConnectionBudget(openFilesLimit, perService, true, services);
        }
        int perService = DEFAULT_PER_SERVICE;
        if (openFilesLimit.isPresent()) {
            long share = openFilesLimit.getAsLong() / 4 / Math.max(1, services);
            perService = (int) Math.max(MIN_PER_SERVICE, Math.min(DEFAULT_PER_SERVICE, share));
        }
        return new ConnectionBudget(openFilesLimit, perService, false, services);
    }

    /** The open-files limit of this process (after the JVM raised its soft limit, as HotSpot does on Linux). */
    static OptionalLong processLimit() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            long limit = unix.getMaxFileDescriptorCount();
            return limit > 0 ? OptionalLong.of(limit) : OptionalLong.empty();
        }
        return OptionalLong.empty();
    }

    /** The services' variables with the cap set. */
    Map<String, String> applyTo(Map<String, String> serviceVariables) {
        Map<String, String> vars = new LinkedHashMap<>(serviceVariables);
        vars.put(MAX_CONNECTIONS, Integer.toString(perService));
        return vars;
    }

    /** "open files limit 20,000; HTTP connections capped at 1,024 per service". */
    String describe() {
        String cap = String.format(Locale.ROOT, "HTTP connections capped at %,d per service%s", perService,
                chosenByUser ? " (" + MAX_CONNECTIONS + ")" : "");
        return openFilesLimit.isPresent()
                ? String.format(Locale.ROOT, "open files limit %,d; %s", openFilesLimit.getAsLong(), cap)
                : cap;
    }

    /** What a user should change, if anything. */
    Optional<String> warning() {
        if (openFilesLimit.isEmpty()) {
            return Optional.empty();
        }
        long limit = openFilesLimit.getAsLong();
        if (chosenByUser && (long) perService * services > limit / 2) {
            return Optional.of(String.format(Locale.ROOT, "%s=%d lets %d HTTP services hold %,d of the %,d descriptors this"
                            + " process may open: a client flood could starve the broker; lower it or raise `ulimit -n`",
                    MAX_CONNECTIONS, perService, services, (long) perService * services, limit));
        }
        if (limit < LOW_LIMIT) {
            return Optional.of(String.format(Locale.ROOT, "this process may open only %,d files: raise the limit"
                    + " (`ulimit -n %d`, up to `ulimit -Hn`) before starting meter dev", limit, LOW_LIMIT * 4));
        }
        return Optional.empty();
    }
}
