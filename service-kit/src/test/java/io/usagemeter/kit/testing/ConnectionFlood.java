package io.usagemeter.kit.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

/**
 * The connection-flood check every service passes: far more idle connections than the cap, opened at
 * once. The service keeps answering {@code /health/live} on a connection opened before the flood,
 * and a fresh connection works once the flood is closed.
 */
public final class ConnectionFlood {

    private ConnectionFlood() {
    }

    /** Runs the check against a server capped at {@code cap} connections, flooding with {@code flood} of them. */
    public static void check(int port, int cap, int flood) throws IOException, InterruptedException {
        assertThat(flood).as("a flood is far more than the cap").isGreaterThan(cap * 4);
        try (RawHttpConnection existing = new RawHttpConnection(port)) {
            assertThat(existing.get("/health/live").status()).isEqualTo(200);
            List<Socket> idle = new ArrayList<>();
            int connected = 0;
            try {
                for (int i = 0; i < flood; i++) {
                    Socket socket = new Socket();
                    idle.add(socket);
                    try {
                        socket.connect(new InetSocketAddress("localhost", port), 1_000);
                        connected++;
                    } catch (IOException refused) {
                        // the kernel's queue may refuse some outright: that is a refusal too
                    }
                }
                Thread.sleep(200);
                assertThat(connected).as("the flood reached the server").isGreaterThan(cap);
                assertThat(existing.get("/health/live").status()).as("alive on an existing connection during the flood")
                        .isEqualTo(200);
                int refusedNow = 0;
                for (Socket socket : idle) {
                    if (socket.isConnected() && closedByServer(socket)) {
                        refusedNow++;
                    }
                }
                assertThat(refusedNow).as("connections past the cap are closed by the server at once")
                        .isGreaterThanOrEqualTo(connected - cap);
            } finally {
                for (Socket socket : idle) {
                    socket.close();
                }
            }
        }
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (true) {
            try (RawHttpConnection fresh = new RawHttpConnection(port)) {
                assertThat(fresh.get("/health/live").status()).isEqualTo(200);
                return;
            } catch (IOException stillClosing) {
                if (System.nanoTime() > deadline) {
                    throw stillClosing;
                }
                Thread.sleep(100);
            }
        }
    }

    /** Whether the server closed this connection: a read sees the end of the stream or a reset, not a timeout. */
    private static boolean closedByServer(Socket socket) throws IOException {
        socket.setSoTimeout(200);
        try {
            return socket.getInputStream().read() == -1;
        } catch (java.net.SocketTimeoutException open) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }
}
