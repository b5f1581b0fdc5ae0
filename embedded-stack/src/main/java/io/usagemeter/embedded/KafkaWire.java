package io.usagemeter.embedded;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.RequestHeader;

/**
 * One Kafka request on a socket of its own, framed as Kafka frames every request (a 4-byte size,
 * then the header and body), for the few requests no public client sends.
 */
final class KafkaWire {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private KafkaWire() {
    }

    static AbstractResponse exchange(Node broker, ApiKeys api, short version, AbstractRequest.Builder<?> builder) {
        RequestHeader header = new RequestHeader(api, version, "embedded-kafka", 1);
        ByteBuffer request = builder.build(version).serializeWithHeader(header);
        byte[] bytes = new byte[request.remaining()];
        request.get(bytes);
        try (Socket socket = new Socket(broker.host(), broker.port())) {
            socket.setSoTimeout((int) TIMEOUT.toMillis());
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            out.writeInt(bytes.length);
            out.write(bytes);
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] response = new byte[in.readInt()];
            in.readFully(response);
            return AbstractResponse.parseResponse(ByteBuffer.wrap(response), header);
        } catch (IOException e) {
            throw new IllegalStateException("no " + api + " answer from " + broker.host() + ":" + broker.port()
                    + ": " + e.getMessage(), e);
        }
    }
}
