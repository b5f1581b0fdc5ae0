package io.usagemeter.notifier;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class WebhookSignatureTest {

    /** The test vector of the Standard Webhooks reference implementations. */
    private static final String SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private static final String ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private static final long TIMESTAMP = 1614265330;
    private static final String BODY = "{\"test\": 2432232314}";

    @Test
    void reproducesTheStandardWebhooksTestVector() {
        assertThat(WebhookSignature.header(ID, TIMESTAMP, BODY, List.of(SECRET)))
                .isEqualTo("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    @Test
    void twoSecretsGiveTwoSpaceSeparatedSignaturesEitherOfWhichVerifies() {
        String other = WebhookSignature.newSecret();
        String header = WebhookSignature.header(ID, TIMESTAMP, BODY, List.of(other, SECRET));

        assertThat(header.split(" ")).hasSize(2).allMatch(s -> s.startsWith("v1,"));
        assertThat(WebhookSignature.verify(ID, TIMESTAMP, BODY, header, SECRET)).isTrue();
        assertThat(WebhookSignature.verify(ID, TIMESTAMP, BODY, header, other)).isTrue();
        assertThat(WebhookSignature.verify(ID, TIMESTAMP, BODY + " ", header, SECRET)).isFalse();
        assertThat(WebhookSignature.verify(ID, TIMESTAMP + 1, BODY, header, SECRET)).isFalse();
    }

    @Test
    void newSecretsAreWhsecAnd32RandomBytes() {
        String a = WebhookSignature.newSecret();
        String b = WebhookSignature.newSecret();

        assertThat(a).startsWith("whsec_").isNotEqualTo(b);
        assertThat(Base64.getDecoder().decode(a.substring("whsec_".length()))).hasSize(32);
    }
}
