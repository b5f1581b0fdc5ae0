package io.usagemeter.kit.internal;

import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.nio.channels.SelectableChannel;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.AbstractConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.component.AbstractLifeCycle;

/**
 * Caps a server's open connections: a connection accepted past the cap is closed at once.
 *
 * <p>Jetty's own {@code NetworkConnectionLimit} stops accepting at the cap, which leaves new
 * connections waiting in the kernel's accept queue for as long as the cap is reached: clients hang
 * instead of being told. Closing at accept keeps the acceptor draining the queue, so a flood costs
 * one short-lived descriptor per connection and never more than the cap held open.
 */
public final class ConnectionCap extends AbstractLifeCycle implements SelectorManager.AcceptListener {

    private final int max;
    private final Server server;
    private final Counter refused;
    private final AtomicInteger open = new AtomicInteger();
    private final Set<SelectableChannel> admitted = ConcurrentHashMap.newKeySet();

    public ConnectionCap(int max, Server server, Counter refused) {
        this.max = max;
        this.server = server;
        this.refused = refused;
        server.addBean(this);
    }

    @Override
    protected void doStart() throws Exception {
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof AbstractConnector c) {
                c.addBean(this);
            }
        }
        super.doStart();
    }

    public int open() {
        return open.get();
    }

    @Override
    public void onAccepting(SelectableChannel channel) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            refused.increment();
            try {
                channel.close();
            } catch (IOException e) {
                // closing a just-accepted socket: nothing to do about it
            }
            return;
        }
        admitted.add(channel);
    }

    @Override
    public void onAcceptFailed(SelectableChannel channel, Throwable cause) {
        release(channel);
    }

    @Override
    public void onClosed(SelectableChannel channel) {
        release(channel);
    }

    private void release(SelectableChannel channel) {
        if (admitted.remove(channel)) {
            open.decrementAndGet();
        }
    }
}
