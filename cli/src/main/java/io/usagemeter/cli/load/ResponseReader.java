package io.usagemeter.cli.load;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * Reads one HTTP/1.1 response at a time from the bytes a connection receives, as they arrive:
 * status line, headers, then a body framed by {@code Content-Length}, by chunks, or by the end of
 * the connection. Informational (1xx) answers are skipped. Only what a load generator needs is
 * kept: the status, {@code Retry-After} in seconds, and whether the server closes the connection.
 */
final class ResponseReader {

    /** A whole answer. {@code retryAfterSeconds} is empty when absent or not a number of seconds. */
    record Answer(int status, OptionalLong retryAfterSeconds, boolean closesConnection) {}

    private static final int MAX_HEAD_BYTES = 64 * 1024;
    private static final byte[] CRLF_CRLF = {'\r', '\n', '\r', '\n'};

    private enum Framing { LENGTH, CHUNKED, UNTIL_CLOSE }

    private ByteBuffer buffer = ByteBuffer.allocate(8 * 1024);
    private Answer head;
    private Framing framing;
    private long bodyRemaining;
    /** While chunked: -1 reading a chunk-size line, -2 reading the trailer, else bytes of the chunk left (+2 for its CRLF). */
    private long chunkRemaining = -1;

    /** Where the next bytes read from the channel go; grows when full. */
    ByteBuffer buffer() {
        if (!buffer.hasRemaining()) {
            ByteBuffer bigger = ByteBuffer.allocate(buffer.capacity() * 2);
            buffer.flip();
            bigger.put(buffer);
            buffer = bigger;
        }
        return buffer;
    }

    /** True between a response's first byte and its end: the connection cannot take another request yet. */
    boolean midResponse() {
        return head != null || buffer.position() > 0;
    }

    /**
     * The next whole answer from the bytes received so far, or {@code null} while incomplete.
     *
     * @throws MalformedResponse when the bytes are not an HTTP/1.1 response
     */
    Answer next() {
        while (true) {
            if (head == null && !readHead()) {
                return null;
            }
            if (!readBody()) {
                return null;
            }
            Answer answer = head;
            head = null;
            if (answer.status() >= 200) {
                return answer;
            }
        }
    }

    /** The answer of a response framed by the end of the connection, once the server closed it; else null. */
    Answer atEndOfStream() {
        if (head != null && framing == Framing.UNTIL_CLOSE) {
            Answer answer = head;
            head = null;
            buffer.clear();
            return answer;
        }
        return null;
    }

    private boolean readHead() {
        byte[] b = buffer.array();
        int end = buffer.position();
        int headEnd = indexOf(b, end, CRLF_CRLF);
        if (headEnd < 0) {
            if (end > MAX_HEAD_BYTES) {
                throw new MalformedResponse("response headers longer than " + MAX_HEAD_BYTES + " bytes");
            }
            return false;
        }
        String text = new String(b, 0, headEnd, StandardCharsets.ISO_8859_1);
        consume(headEnd + CRLF_CRLF.length);
        String[] lines = text.split("\r\n");
        if (!lines[0].startsWith("HTTP/1.") || lines[0].length() < 12) {
            throw new MalformedResponse("not an HTTP/1.x status line: " + abbreviate(lines[0]));
        }
        int status;
        try {
            status = Integer.parseInt(lines[0].substring(9, 12));
        } catch (NumberFormatException e) {
            throw new MalformedResponse("no status code in: " + abbreviate(lines[0]));
        }
        long length = -1;
        boolean chunked = false;
        boolean close = lines[0].startsWith("HTTP/1.0");
        OptionalLong retryAfter = OptionalLong.empty();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0) {
                continue;
            }
            String name = lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = lines[i].substring(colon + 1).trim();
            switch (name) {
                case "content-length" -> length = parseLength(value);
                case "transfer-encoding" -> chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
                case "connection" -> close = value.equalsIgnoreCase("close");
                case "retry-after" -> retryAfter = seconds(value);
                default -> { }
            }
        }
        head = new Answer(status, retryAfter, close);
        if (status < 200 || status == 204 || status == 304) {
            framing = Framing.LENGTH;
            bodyRemaining = 0;
        } else if (chunked) {
            framing = Framing.CHUNKED;
            chunkRemaining = -1;
        } else if (length >= 0) {
            framing = Framing.LENGTH;
            bodyRemaining = length;
        } else {
            framing = Framing.UNTIL_CLOSE;
            head = new Answer(status, retryAfter, true);
        }
        return true;
    }

    private boolean readBody() {
        switch (framing) {
            case LENGTH -> {
                long take = Math.min(bodyRemaining, buffer.position());
                consume((int) take);
                bodyRemaining -= take;
                return bodyRemaining == 0;
            }
            case CHUNKED -> {
                return readChunks();
            }
            default -> {
                buffer.clear();
                return false;
            }
        }
    }

    private boolean readChunks() {
        while (true) {
            if (chunkRemaining >= 0) {
                long take = Math.min(chunkRemaining, buffer.position());
                consume((int) take);
                chunkRemaining -= take;
                if (chunkRemaining > 0) {
                    return false;
                }
                chunkRemaining = -1;
            }
            byte[] b = buffer.array();
            int lineEnd = indexOf(b, buffer.position(), new byte[] {'\r', '\n'});
            if (lineEnd < 0) {
                return false;
            }
            String line = new String(b, 0, lineEnd, StandardCharsets.ISO_8859_1).trim();
            consume(lineEnd + 2);
            if (chunkRemaining == -2) {
                if (line.isEmpty()) {
                    chunkRemaining = -1;
                    return true;
                }
                continue;
            }
            int extension = line.indexOf(';');
            long size;
            try {
                size = Long.parseLong(extension < 0 ? line : line.substring(0, extension).trim(), 16);
            } catch (NumberFormatException e) {
                throw new MalformedResponse("bad chunk size: " + abbreviate(line));
            }
            chunkRemaining = size == 0 ? -2 : size + 2;
        }
    }

    private void consume(int bytes) {
        buffer.flip();
        buffer.position(bytes);
        buffer.compact();
    }

    private static int indexOf(byte[] b, int end, byte[] pattern) {
        outer:
        for (int i = 0; i + pattern.length <= end; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (b[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static long parseLength(String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new MalformedResponse("bad Content-Length: " + abbreviate(value));
        }
    }

    /** Retry-After as delay-seconds; an HTTP date is not followed (our services send seconds). */
    private static OptionalLong seconds(String value) {
        try {
            long seconds = Long.parseLong(value);
            return seconds >= 0 ? OptionalLong.of(seconds) : OptionalLong.empty();
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }

    /** The bytes received are not an HTTP/1.1 response. */
    static final class MalformedResponse extends RuntimeException {
        MalformedResponse(String message) {
            super(message);
        }
    }
}
