package io.usagemeter.cli.dev;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An ordered list of components started in dependency order and stopped in reverse. A component
 * that fails to start stops the ones already running, so a failed start leaves nothing behind.
 */
public final class DevStack implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DevStack.class);

    /** One part of the stack: starting it returns what stops it. */
    public interface Component {
        String name();

        AutoCloseable start() throws Exception;

        static Component of(String name, Starter starter) {
            return new Component() {
                @Override
                public String name() {
                    return name;
                }

                @Override
                public AutoCloseable start() throws Exception {
                    return starter.start();
                }
            };
        }
    }

    @FunctionalInterface
    public interface Starter {
        AutoCloseable start() throws Exception;
    }

    private record Running(String name, AutoCloseable stopper) {}

    private final List<Component> components;
    private final Deque<Running> running = new ArrayDeque<>();

    public DevStack(List<Component> components) {
        this.components = List.copyOf(components);
    }

    /**
     * Starts every component in order, reporting each with its start time.
     *
     * @throws DevStackException naming the component that failed (the others are stopped again)
     */
    public synchronized void start(Consumer<String> progress) {
        for (Component component : components) {
            long started = System.nanoTime();
            try {
                running.push(new Running(component.name(), component.start()));
            } catch (Exception e) {
                close();
                if (e instanceof DevStackException known) {
                    throw known;
                }
                throw new DevStackException(component.name() + " did not start: " + oneLine(e), e);
            }
            progress.accept(String.format("  %-12s ready in %.1f s", component.name(),
                    (System.nanoTime() - started) / 1e9));
        }
    }

    /** Stops what runs, last started first; a component that fails to stop does not keep the others running. */
    @Override
    public synchronized void close() {
        while (!running.isEmpty()) {
            Running component = running.pop();
            long started = System.nanoTime();
            try {
                component.stopper().close();
                log.info("{} stopped in {} ms", component.name(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            } catch (Exception e) {
                log.warn("{} did not stop cleanly: {}", component.name(), oneLine(e));
            }
        }
    }

    public synchronized List<String> runningNames() {
        List<String> names = new java.util.ArrayList<>(running.stream().map(Running::name).toList());
        java.util.Collections.reverse(names);
        return names;
    }

    static String oneLine(Throwable e) {
        String message = e.getMessage() != null ? e.getMessage() : e.toString();
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
