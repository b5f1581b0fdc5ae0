package io.usagemeter.cli.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** HTTP/1.1 answers as a connection receives them: whole, split anywhere, pipelined, or ended by the close. */
class ResponseReaderTest {

    private final ResponseReader reader = new ResponseReader();

    private List<ResponseReader.Answer> feed(String... pieces) {
        List<ResponseReader.Answer> answers = new ArrayList<>();
        for (String piece : pieces) {
            byte[] bytes = piece.getBytes(StandardCharsets.ISO_8859_1);
            for (byte b : bytes) {
                reader.buffer().put(b);
            }
            for (ResponseReader.Answer a = reader.next(); a != null; a = reader.next()) {
                answers.add(a);
            }
        }
        return answers;
    }

    @Test
    void aContentLengthAnswerEndsAfterItsBodyEvenWhenSplitAcrossReads() {
        List<ResponseReader.Answer> answers = feed("HTTP/1.1 202 Accepted\r\nContent-Le", "ngth: 14\r\n\r\n{\"accepted\"", ":1}");

        assertThat(answers).containsExactly(new ResponseReader.Answer(202, OptionalLong.empty(), false));
        assertThat(reader.midResponse()).isFalse();
    }

    @Test
    void retryAfterSecondsAndConnectionCloseAreRead() {
        List<ResponseReader.Answer> answers = feed("HTTP/1.1 503 Service Unavailable\r\nretry-after: 2\r\n"
                + "Connection: close\r\nContent-Length: 2\r\n\r\n{}");

        assertThat(answers).containsExactly(new ResponseReader.Answer(503, OptionalLong.of(2), true));
    }

    @Test
    void aRetryAfterDateIsNotTakenForSeconds() {
        List<ResponseReader.Answer> answers = feed("HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n"
                + "Content-Length: 0\r\n\r\n");

        assertThat(answers).containsExactly(new ResponseReader.Answer(503, OptionalLong.empty(), false));
    }

    @Test
    void chunkedBodiesAreFollowedToTheLastChunkAndTrailer() {
        List<ResponseReader.Answer> answers = feed("HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n",
                "5\r\nhel", "lo\r\n6;ext=1\r\n world\r\n0\r\n", "X-Trailer: 1\r\n\r\n");

        assertThat(answers).containsExactly(new ResponseReader.Answer(400, OptionalLong.empty(), false));
        assertThat(reader.midResponse()).isFalse();
    }

    @Test
    void pipelinedAnswersComeOutInOrderAndInformationalOnesAreSkipped() {
        List<ResponseReader.Answer> answers = feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0"
                + "\r\n\r\nHTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nabc");

        assertThat(answers).extracting(ResponseReader.Answer::status).containsExactly(202, 401);
    }

    @Test
    void anAnswerWithoutLengthEndsWithTheConnection() {
        assertThat(feed("HTTP/1.1 500 Server Error\r\n\r\nsome text")).isEmpty();
        assertThat(reader.midResponse()).isTrue();

        assertThat(reader.atEndOfStream()).isEqualTo(new ResponseReader.Answer(500, OptionalLong.empty(), true));
    }

    @Test
    void bytesThatAreNotHttpAreRefusedWithWhatWasSeen() {
        assertThatThrownBy(() -> feed("SSH-2.0-OpenSSH_9.2\r\n\r\n"))
                .isInstanceOf(ResponseReader.MalformedResponse.class)
                .hasMessageContaining("SSH-2.0");
    }
}
